"""A griffe extension for the API reference (mkdocs.yml): docstring doctests render as Python console code.

minidl's docstrings carry runnable ``>>>`` examples (pytest runs them as doctests) as plain paragraphs, as the
standard library's do. Markdown would read their output as text (``[['c', 'a', 'b']]`` as a reference link, which
strict mode rejects), so each top-level doctest block (a ``>>>`` line through the next blank line) is wrapped in a
``pycon`` fence. Indented blocks (inside a Google ``Examples:`` section) are left to griffe's parser.
"""

from __future__ import annotations

import griffe


def fence_doctests(text: str) -> str:
    """``text`` with each unindented doctest block fenced as ```` ```pycon ````.

    >>> print(fence_doctests("Sums.\\n\\n>>> 1 + 1\\n2\\n\\nMore."))
    Sums.
    <BLANKLINE>
    ```pycon
    >>> 1 + 1
    2
    ```
    <BLANKLINE>
    More.
    """
    out: list[str] = []
    inside = fenced = False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and not inside and line.startswith(">>>"):
            out.append("```pycon")
            inside = True
        elif inside and not line.strip():
            out.append("```")
            inside = False
        out.append(line)
    if inside:
        out.append("```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the doctests of every docstring griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
