#!/usr/bin/env bash
# The peers of the local-model benchmark, each in its own venv outside the project (never in
# devbot's .venv, never installed by CI), pinned to the versions the figures were made with.
set -euo pipefail
cd "$(dirname "$0")"
PEERS=${DEVBOT_BENCH_PEERS:-$HOME/.cache/devbot-bench}
mkdir -p "$PEERS"
for peer in aider mini; do
  [ -x "$PEERS/$peer-venv/bin/python" ] || python3 -m venv "$PEERS/$peer-venv"
done
"$PEERS/aider-venv/bin/pip" install -q -c peers-aider.txt aider-chat
"$PEERS/mini-venv/bin/pip" install -q -c peers-mini.txt mini-swe-agent
echo "peers in $PEERS"
