#!/usr/bin/env bash
# Regenerates operator/xds/envoy-api.ts (Envoy's descriptors for the xDS encoder) with the Go
# program beside this script: `npm run gen:protos`; `npm run gen:protos -- --check` regenerates
# into a temporary file and fails if the committed one differs (.ci/run does that).
# Go modules come from the module proxy into the usual caches (GOMODCACHE, GOCACHE): the first run
# on a machine downloads and compiles them (minutes), later runs take about a second.
# -mod=readonly: go.mod and go.sum name every version; nothing is resolved anew.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/../envoy-api.ts"
tmp=$(mktemp --suffix .ts)
trap 'rm -f "$tmp"' EXIT
(cd "$here" && GOFLAGS='-mod=readonly -buildvcs=false' GOTOOLCHAIN=local go run . -out "$tmp")
if [ "${1:-}" = --check ]; then
  if ! cmp -s "$tmp" "$out"; then
    echo "operator/xds/envoy-api.ts differs from what operator/xds/envoy-api/main.go generates: run npm run gen:protos" >&2
    diff <(sed -n '1,60p' "$out") <(sed -n '1,60p' "$tmp") >&2 || true
    exit 1
  fi
  echo "operator/xds/envoy-api.ts is up to date"
else
  cp "$tmp" "$out"
  echo "wrote operator/xds/envoy-api.ts"
fi
