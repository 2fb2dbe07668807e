#!/usr/bin/env bash
# Installs what the interop tests call besides Node: grpcurl (from the Go
# module proxy, into `go env GOPATH`/bin) and the Python virtualenv with
# grpcio (scripts/python-env.sh). Each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPCURL_VERSION=v1.9.4
gobin="$(go env GOPATH)/bin"
# `go install` builds report no -version; the module version is in the binary's build info.
if ! go version -m "$gobin/grpcurl" 2>/dev/null | grep -q "fullstorydev/grpcurl[[:space:]]*${GRPCURL_VERSION}"; then
  go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}"
fi
scripts/python-env.sh >/dev/null
