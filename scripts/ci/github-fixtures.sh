#!/usr/bin/env bash
# GitHub's published descriptions for the GitHub test double and the webhook tests:
# @octokit/openapi (REST API description) and @octokit/webhooks-examples (example deliveries),
# fetched with `npm pack` into .ci-cache/octokit and unpacked there:
#   $DIR/openapi/generated/api.github.com.json         REST description the double validates against
#   $DIR/webhooks-examples/api.github.com/index.json   example deliveries, grouped by event
# Appends DEVBOT_TEST_OCTOKIT_DIR=$DIR to the file named by $1 (when given).
set -euo pipefail
cd "$(dirname "$0")/../.."
OPENAPI_VERSION=23.0.2
EXAMPLES_VERSION=7.6.1
DIR="$PWD/.ci-cache/octokit"
mkdir -p "$DIR"
if [ ! -f "$DIR/openapi-$OPENAPI_VERSION.ok" ] || [ ! -f "$DIR/webhooks-examples-$EXAMPLES_VERSION.ok" ]; then
  command -v npm >/dev/null || apt-get install -y --no-install-recommends npm >/dev/null
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "@octokit/openapi@$OPENAPI_VERSION" \
    "@octokit/webhooks-examples@$EXAMPLES_VERSION" >/dev/null)
  for name in openapi webhooks-examples; do
    rm -rf "${DIR:?}/$name" "$DIR/$name".*.ok "$DIR/$name"-*.ok
    mkdir -p "$DIR/$name"
    tar -xzf "$tmp"/octokit-"$name"-*.tgz -C "$DIR/$name" --strip-components=1
  done
  touch "$DIR/openapi-$OPENAPI_VERSION.ok" "$DIR/webhooks-examples-$EXAMPLES_VERSION.ok"
fi
if [ $# -ge 1 ]; then
  echo "DEVBOT_TEST_OCTOKIT_DIR=$DIR" >> "$1"
fi
echo "$DIR"
