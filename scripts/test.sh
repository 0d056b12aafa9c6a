#!/usr/bin/env bash
# Set up, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# GitHub's API description and example deliveries for the GitHub tests (npm registry, cached)
if [ -z "${DEVBOT_TEST_OCTOKIT_DIR:-}" ] && command -v npm >/dev/null; then
  DEVBOT_TEST_OCTOKIT_DIR="$(bash scripts/ci/github-fixtures.sh | tail -1)" && export DEVBOT_TEST_OCTOKIT_DIR
fi
.venv/bin/ruff check src tests bench
.venv/bin/ruff format --check src tests bench
.venv/bin/mypy
.venv/bin/python -m pytest -q "$@"
