"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``): the notebooks join the site from where they live.

The teaching notebooks stay in ``examples/notebooks/`` (CI executes them there; see tests/test_notebooks.py) and
appear on the site under ``notebooks/`` without a copy in docs/. Their links to the documentation pages are written
for the repository (``../../docs/optimizers.md``); on the site those become links to the built pages.
"""

from __future__ import annotations

import pathlib
import re

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
_DOCS_LINK = re.compile(r'href="\.\./\.\./docs/([A-Za-z0-9_-]+)\.md(#[^"]*)?"')


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns .ipynb files into pages
def on_files(files, config):
    """Add every ``examples/notebooks/*.ipynb`` as ``notebooks/NAME.ipynb``."""
    for path in sorted((EXAMPLES / "notebooks").glob("*.ipynb")):
        files.append(File(f"notebooks/{path.name}", src_dir=str(EXAMPLES), dest_dir=config["site_dir"],
                          use_directory_urls=config["use_directory_urls"]))
    return files


def on_page_content(html, page, config, files):
    """In a notebook page, point ``../../docs/PAGE.md`` links at the built page (strict: an unknown page fails)."""
    if not page.file.src_uri.startswith("notebooks/"):
        return html

    def replace(match: re.Match) -> str:
        target = files.get_file_from_path(f"{match.group(1)}.md")
        if target is None:
            raise ValueError(f"{page.file.src_uri}: link to docs/{match.group(1)}.md, which does not exist")
        return f'href="{target.url_relative_to(page.file)}{match.group(2) or ""}"'

    return _DOCS_LINK.sub(replace, html)
