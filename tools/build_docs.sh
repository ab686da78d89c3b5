#!/usr/bin/env bash
# Build the documentation site (mkdocs.yml) in strict mode: any broken link, missing anchor, unresolved API
# reference, docstring warning or failing notebook cell fails the build. Nothing is fetched from the network.
#
#   python -m pip install -e '.[docs,notebooks]'     # mkdocs, Material, mkdocstrings, mkdocs-jupyter, ipykernel
#   tools/build_docs.sh [OUTPUT]                       # default OUTPUT: site/ (mkdocs' folder)
#
# MINIDL_DOCS_EXECUTE=false shows the notebooks without running them (faster; CI runs them in tests/test_notebooks.py
# too). PYTHON selects the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-site}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # the notebooks' kernels import minidl from this checkout
export NO_MKDOCS_2_WARNING=1                          # Material's end-of-life banner is not a build problem
"${PYTHON:-python3}" -c 'import mkdocs, material, mkdocstrings, mkdocs_jupyter' 2>/dev/null || {
    echo "tools/build_docs.sh: mkdocs, mkdocs-material, mkdocstrings[python] and mkdocs-jupyter are needed:" \
         "python -m pip install -e '.[docs,notebooks]'" >&2; exit 1; }
start=$SECONDS
"${PYTHON:-python3}" -m mkdocs build --strict --clean --site-dir "$OUT"
echo "tools/build_docs.sh: site built in $OUT/ in $((SECONDS - start)) s"
