#!/usr/bin/env bash
# The docker sandbox backend: Debian's docker.io, dockerd started in the background, and the
# default image built with no registry (debootstrap + docker import) by devbot itself.
set -euo pipefail
out="$1"
cd "$(dirname "$0")/../.."
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -30 /tmp/dockerd.log >&2; exit 1; }
fi
bash scripts/setup.sh
if ! docker image inspect devbot-sandbox:bookworm >/dev/null 2>&1; then
  .venv/bin/devbot sandbox build-image
fi
echo "DEVBOT_TEST_DOCKER=1" >> "$out"
