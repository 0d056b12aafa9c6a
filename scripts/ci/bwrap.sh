#!/usr/bin/env bash
# The bwrap sandbox backend: Debian's bubblewrap (python3 for the probes is on the host).
set -euo pipefail
out="$1"
if ! command -v bwrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
fi
bwrap --unshare-all --ro-bind / / -- true
echo "DEVBOT_TEST_BWRAP=1" >> "$out"
