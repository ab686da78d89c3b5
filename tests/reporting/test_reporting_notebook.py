"""The one notebook check: a Jupyter kernel's shell (ZMQInteractiveShell or a subclass), nothing else."""

import sys
import types

import pytest

from minidl.reporting import figure, notebook, progress_bar
from minidl.reporting.notebook import in_notebook


def fake_ipython(monkeypatch, shell):
    """Install a stand-in IPython module whose get_ipython() returns ``shell``."""
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", module)


class ZMQInteractiveShell:  # the name ipykernel's shell has
    pass


class ColabShell(ZMQInteractiveShell):  # hosted notebooks subclass it
    pass


class TerminalInteractiveShell:  # `ipython` in a terminal: has no kernel
    kernel = object()  # even with a stray attribute of that name it is not a notebook


def test_kernel_shell_is_a_notebook(monkeypatch):
    fake_ipython(monkeypatch, ZMQInteractiveShell())
    assert in_notebook() is True


def test_subclass_of_the_kernel_shell_is_a_notebook(monkeypatch):
    fake_ipython(monkeypatch, ColabShell())
    assert in_notebook() is True


@pytest.mark.parametrize("shell", [None, TerminalInteractiveShell()], ids=["plain-python", "terminal-ipython"])
def test_other_shells_are_not_a_notebook(monkeypatch, shell):
    fake_ipython(monkeypatch, shell)
    assert in_notebook() is False


def test_without_ipython_it_is_not_a_notebook(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)  # `import IPython` would raise ImportError
    assert in_notebook() is False
    monkeypatch.delitem(sys.modules, "IPython")  # never imported
    assert in_notebook() is False
    assert "IPython" not in sys.modules  # the check does not import it


def test_a_failing_get_ipython_is_not_a_notebook(monkeypatch):
    module = types.ModuleType("IPython")
    module.get_ipython = lambda: (_ for _ in ()).throw(RuntimeError("broken install"))
    monkeypatch.setitem(sys.modules, "IPython", module)
    assert in_notebook() is False


def test_real_ipython_stubbed(monkeypatch):
    IPython = pytest.importorskip("IPython")
    monkeypatch.setattr(IPython, "get_ipython", lambda: ZMQInteractiveShell())
    assert in_notebook() is True
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    assert in_notebook() is False


def test_every_reporter_uses_the_one_check():
    assert progress_bar.in_notebook is notebook.in_notebook
    assert figure._in_notebook is notebook.in_notebook
