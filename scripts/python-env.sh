#!/usr/bin/env bash
# Prints the path of a Python with examples/python/requirements.txt installed,
# creating the virtualenv (node_modules/.cache/tally-python) on first use and
# again whenever the requirements change. Used by code generation, the Python
# example and the interop tests, so no manual pip step is needed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/node_modules/.cache/tally-python"
requirements="$root/examples/python/requirements.txt"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  cp "$requirements" "$venv/requirements.txt"
fi
echo "$venv/bin/python"
