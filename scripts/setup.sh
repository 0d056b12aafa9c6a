#!/usr/bin/env bash
# Create .venv and install devbot with the exact versions CI tested (constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v git >/dev/null || { echo "devbot needs git: apt-get install -y git" >&2; exit 1; }
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
