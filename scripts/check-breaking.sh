#!/usr/bin/env bash
# `buf breaking` for the contract other languages depend on: proto/ must not
# break (FILE rules: wire, JSON and generated code) against ANY version of it
# committed since the contract epoch (.ci/contract-epoch, the first commit
# that generated stubs for other languages). That includes every earlier main,
# whichever commit it was, without CI having to know which one landed last.
set -euo pipefail
cd "$(dirname "$0")/.."
epoch="$(cat .ci/contract-epoch)"
head="$(git rev-parse HEAD)"
checked=0
for rev in "$epoch" $(git rev-list "$epoch..HEAD" -- proto); do
  if [ "$rev" = "$head" ] && [ -z "$(git status --porcelain proto)" ]; then continue; fi
  buf breaking proto --against ".git#ref=$rev,subdir=proto"
  checked=$((checked + 1))
done
echo "proto/ breaks none of the $checked contract versions since ${epoch:0:12}"
