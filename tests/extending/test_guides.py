"""The code blocks of docs/extending.md and docs/your-data.md run as written, in order (issue 12 items 4, 12)."""

from __future__ import annotations

import pathlib
import re

import pytest

from minidl.layers import base

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"


def _blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(encoding="utf-8"), flags=re.S)


@pytest.fixture
def clean_registry():
    saved = dict(base._REGISTERED)
    yield
    base._REGISTERED.clear()
    base._REGISTERED.update(saved)


@pytest.mark.parametrize("page", ["extending.md", "your-data.md"])
def test_guide_runs(page, clean_registry, capsys):
    if page == "your-data.md":
        pytest.importorskip("PIL")
    blocks = _blocks(page)
    assert len(blocks) >= 4
    namespace: dict = {"__name__": f"guide_{page}"}
    for k, code in enumerate(blocks):
        exec(compile(code, f"{page} block {k + 1}", "exec"), namespace)
    assert capsys.readouterr().out          # the guides print what they show
