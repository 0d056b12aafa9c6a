#!/usr/bin/env bash
# GitHub's Spec Kit CLI (`specify`, PyPI package specify-cli) in a venv of its own under
# .ci-cache/, for the test that lays a feature out as Spec Kit does (`specify init`, its
# create-new-feature and setup-plan scripts; all offline). Appends DEVBOT_TEST_SPECIFY=PATH
# to the file in $1. Its dependencies are pinned in speckit-constraints.txt (pip freeze of the
# venv the tests were made with).
set -euo pipefail
out="${1:?usage: speckit.sh ENV_FILE}"
cd "$(dirname "$0")/../.."
VERSION=1.2.3
DIR="$PWD/.ci-cache/specify-$VERSION"
if [ ! -x "$DIR/bin/specify" ]; then
  rm -rf "$DIR"
  python3 -m venv "$DIR"
  "$DIR/bin/pip" install --quiet --disable-pip-version-check \
    -c scripts/ci/speckit-constraints.txt "specify-cli==$VERSION"
fi
"$DIR/bin/specify" version >/dev/null
echo "DEVBOT_TEST_SPECIFY=$DIR/bin/specify" >> "$out"
