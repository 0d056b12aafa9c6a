#!/usr/bin/env bash
# Set up, then run the demo: a plan becomes a pushed branch, a report and a PR record.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/devbot demo "$@"
