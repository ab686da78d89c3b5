"""Regenerate ``tests/cupy_names.json``: the names and keywords of the installed CuPy, which the strict stand-in
(``minidl.backend.standin_names``) exposes and nothing more.

CuPy imports without a CUDA driver (its namespace, signatures and docstrings are real), so this runs on any machine
with ``pip install cupy-cuda12x``. The file records, for the namespaces ``cupy``, ``cupy.linalg``, ``cupy.random``
and ``cupy.fft``, for the methods and attributes of ``cupy.ndarray`` and for those of a ufunc (``cupy.add``): each
public name, its kind (``function``, ``ufunc``, ``module``, ``type``, ``constant``, ``method``, ``attribute``) and,
for callables, the names it accepts by keyword (``null`` when it takes ``**kwargs`` or its signature cannot be read:
then any keyword passes). Signatures come from :func:`inspect.signature`, else from the first docstring line
(Cython functions and ufuncs document theirs there: ``add(x1, x2, /, out=None, *, casting='same_kind',
dtype=None)``).

    python tools/make_cupy_names.py            # rewrite tests/cupy_names.json from the installed CuPy
    python tools/make_cupy_names.py --check    # fail unless the stored file equals a fresh build
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import re
import sys
import types

from minidl._files import write_or_check_stored

OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "cupy_names.json")
MODULES = ("cupy", "cupy.linalg", "cupy.random", "cupy.fft")


def keywords(obj) -> list[str] | None:
    """The parameter names ``obj`` accepts by keyword, sorted; None when it takes ``**kwargs`` or has no readable
    signature."""
    params = None
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        params = _doc_parameters(obj)
    if params is None or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return sorted(p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                       inspect.Parameter.KEYWORD_ONLY) and p.name != "self")


def _doc_parameters(obj) -> list[inspect.Parameter] | None:
    """The parameters of the signature on the first line of ``obj.__doc__`` (``name(a, b=None, *, c=1) -> t``)."""
    doc = (getattr(obj, "__doc__", None) or "").strip().splitlines()
    m = re.match(r"^[\w.]*\((.*)\)(\s*->.*)?$", doc[0].strip()) if doc else None
    if m is None:
        return None
    text = m.group(1).replace("\\*", "*")
    try:
        fn = ast.parse(f"def f({text}): pass").body[0]
    except SyntaxError:
        return None
    a = fn.args  # type: ignore[attr-defined]
    P = inspect.Parameter
    out = [P(x.arg, P.POSITIONAL_ONLY) for x in a.posonlyargs] + [P(x.arg, P.POSITIONAL_OR_KEYWORD) for x in a.args]
    if a.vararg:
        out.append(P(a.vararg.arg, P.VAR_POSITIONAL))
    out += [P(x.arg, P.KEYWORD_ONLY) for x in a.kwonlyargs]
    if a.kwarg:
        out.append(P(a.kwarg.arg, P.VAR_KEYWORD))
    return out


def describe(obj, *, member: bool = False) -> dict:
    """One entry of the file: the kind of ``obj`` and, for callables, its keywords."""
    if isinstance(obj, types.ModuleType):
        return {"kind": "module"}
    if isinstance(obj, type):
        return {"kind": "type"}
    if type(obj).__name__ == "ufunc":
        return {"kind": "ufunc", "keywords": keywords(obj)}
    if callable(obj):
        return {"kind": "method" if member else "function", "keywords": keywords(obj)}
    return {"kind": "attribute" if member else "constant"}


def build() -> dict:
    """The whole record for the installed CuPy."""
    import importlib

    import cupy

    out: dict = {"cupy_version": cupy.__version__, "modules": {}}
    for name in MODULES:
        mod = importlib.import_module(name)
        out["modules"][name] = {n: describe(getattr(mod, n)) for n in sorted(dir(mod)) if not n.startswith("_")}
    out["ndarray"] = {n: describe(getattr(cupy.ndarray, n), member=True)
                      for n in sorted(dir(cupy.ndarray)) if not n.startswith("_")}
    for n in list(out["ndarray"]):  # properties (shape, T, ...) are attributes; descriptors of methods callables
        if isinstance(inspect.getattr_static(cupy.ndarray, n), (property, types.GetSetDescriptorType,
                                                                 types.MemberDescriptorType)):
            out["ndarray"][n] = {"kind": "attribute"}
    out["ufunc"] = {n: describe(getattr(cupy.add, n), member=True) for n in sorted(dir(cupy.add))
                    if not n.startswith("_")}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="compare with the stored file instead of writing it")
    args = p.parse_args(argv)
    data = (json.dumps(build(), indent=1, sort_keys=True) + "\n").encode("utf-8")
    return write_or_check_stored(OUTPUT, data, args.check)


if __name__ == "__main__":
    sys.exit(main())
