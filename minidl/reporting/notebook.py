"""Whether the code runs inside a Jupyter kernel (notebook, JupyterLab, VS Code notebooks, Colab).

The one check every reporter uses to pick its place (a notebook widget or an in-place figure instead of a terminal
bar or a window): the current IPython shell is a kernel shell, ``ZMQInteractiveShell`` or a subclass of it (Colab's
shell is one). A terminal IPython (``TerminalInteractiveShell``), plain Python, or no IPython at all is not a notebook.
IPython is never imported here: a kernel has always imported it already, so when it is not loaded the answer is False
without paying for the import.
"""

from __future__ import annotations

import sys

__all__ = ["in_notebook", "KERNEL_SHELL"]

#: The class name of IPython's kernel shell (ipykernel); a notebook's shell is this class or derives from it.
KERNEL_SHELL = "ZMQInteractiveShell"


def in_notebook() -> bool:
    """True inside a Jupyter kernel: IPython is loaded and its current shell is a ``ZMQInteractiveShell``.

    >>> import sys
    >>> in_notebook() if "IPython" not in sys.modules else False  # plain Python (doctests): not a notebook
    False
    """
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    if get_ipython is None:  # IPython not loaded (or blocked): no kernel
        return False
    try:
        shell = get_ipython()
    except Exception:  # noqa: BLE001 - a broken IPython install means: not a notebook
        return False
    if shell is None:
        return False
    return any(cls.__name__ == KERNEL_SHELL for cls in type(shell).__mro__)
