#!/usr/bin/env bash
# `npm run test:conformance`: the official Connect conformance suite
# (connectrpc.com/conformance, server mode) against Tally's own transport: the
# one-port listener, the interceptor chain and the gRPC unary fast path, for
# Connect, gRPC and gRPC-Web over HTTP/1.1 and HTTP/2, cleartext and TLS
# (conformance/config.yaml). About 40 s on two cores.
#
# 1. installs connectconformance from the Go module proxy into .tools/bin
#    (git-ignored; skipped when that version is already there);
# 2. generates TypeScript for the module's protos into conformance/gen
#    (git-ignored) with the repo's buf and protoc-gen-es;
# 3. typechecks conformance/ with its own tsconfig (the main one leaves it out);
# 4. runs the suite; conformance/known-failing.txt lists the cases that must
#    fail, each with its reason. Extra arguments go to connectconformance,
#    e.g. `npm run test:conformance -- --run '**/unary/**' -v`.
set -euo pipefail
cd "$(dirname "$0")/.."
CONFORMANCE_VERSION=v1.0.7
bin="$PWD/.tools/bin"
export PATH="$PWD/node_modules/.bin:$PATH"
if ! go version -m "$bin/connectconformance" 2>/dev/null | grep -q "connectrpc.com/conformance[[:space:]]*${CONFORMANCE_VERSION}"; then
  GOBIN="$bin" go install "connectrpc.com/conformance/cmd/connectconformance@${CONFORMANCE_VERSION}"
fi
module_dir="$(go mod download -json "connectrpc.com/conformance@${CONFORMANCE_VERSION}" | node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>console.log(JSON.parse(s).Dir))')"
rm -rf conformance/gen
node_modules/.bin/buf generate "$module_dir/proto" --template conformance/buf.gen.yaml
node_modules/.bin/tsc --noEmit -p conformance/tsconfig.json
# Two cores are shared: a few RPCs at once and two servers at a time.
"$bin/connectconformance" --mode server \
  --conf conformance/config.yaml \
  --known-failing @conformance/known-failing.txt \
  --parallel "${CONFORMANCE_PARALLEL:-4}" --max-servers 2 \
  "$@" \
  -- node --import tsx conformance/conformance-server.ts
