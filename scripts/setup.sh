#!/usr/bin/env bash
# Create .venv and install devbot with the exact versions CI tested (constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v git >/dev/null || { echo "devbot needs git: apt-get install -y git" >&2; exit 1; }
# The bwrap sandbox backend needs Debian's bubblewrap (docker is used instead when it runs).
if [ "$(uname -s)" = Linux ] && ! command -v bwrap >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing bubblewrap (the bwrap sandbox backend)"
    apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; } \
      || echo "could not install bubblewrap; install it, or use docker or sandbox = \"local\"" >&2
  else
    echo "note: bubblewrap is not installed; devbot needs it (apt-get install bubblewrap) or" \
      "a running Docker engine, or sandbox = \"local\" to run commands unisolated" >&2
  fi
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
# `devbot` on the PATH: a link in ~/.local/bin (the usual user bin folder)
mkdir -p "$HOME/.local/bin"
ln -sf "$PWD/.venv/bin/devbot" "$HOME/.local/bin/devbot"
case ":$PATH:" in
  *":$HOME/.local/bin:"*) ;;
  *) echo "devbot is in $HOME/.local/bin (not on your PATH): add it, or use $PWD/.venv/bin/devbot" >&2 ;;
esac
