#!/usr/bin/env bash
# Creates the example's virtual environment, examples/own-problem/.venv, and installs scikit-learn into it from the
# package registry (PyPI). Run once; nothing is downloaded when the example runs.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "scikit-learn>=1.3,<2"
.venv/bin/python -c "import sklearn; print('scikit-learn', sklearn.__version__, 'in', '$(pwd)/.venv')"
