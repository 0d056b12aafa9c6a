#!/usr/bin/env bash
# The dashboard's browser tests: Debian's chromium, driven by Playwright for Python (pinned in
# constraints.txt; no browser is ever downloaded by `playwright install`). Appends
# DEVBOT_TEST_CHROMIUM=/usr/bin/chromium to the file in $1.
set -euo pipefail
out="${1:?usage: chromium.sh ENV_FILE}"
if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
fi
chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1
echo "DEVBOT_TEST_CHROMIUM=$(command -v chromium)" >> "$out"
