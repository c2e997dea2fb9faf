#!/usr/bin/env bash
# Builds kube-apiserver from the k8s.io/kubernetes Go module at a pinned version and caches the
# binary under the user cache dir. A second run with the same version only prints the path.
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod points the k8s.io/* staging
# modules at local folders. We write a tiny wrapper module that requires k8s.io/kubernetes and
# replaces every staging module with its published v0.Y.Z tag, then build cmd/kube-apiserver.
#
# Usage: build-apiserver.sh            prints the binary path on the last line of stdout
# Env:   KGW_K8S_VERSION (default in versions.env), KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
default_version=$(sed -n 's/^KGW_K8S_VERSION=//p' "$here/versions.env")
version="${KGW_K8S_VERSION:-$default_version}"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
out="$cache/kube-apiserver-$version"
bin="$out/kube-apiserver"

log() { printf '[build-apiserver] %s\n' "$*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

if [ -x "$bin" ]; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { log "go is required to build kube-apiserver"; exit 1; }

staging_version="v0.${version#v1.}"
work="$cache/build-apiserver-$version"
mkdir -p "$work" "$out"
cd "$work"

log "step 1/4: fetching k8s.io/kubernetes@$version go.mod"
gomod=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || { log "could not download go.mod of k8s.io/kubernetes@$version"; exit 1; }
goline=$(grep -m1 '^go ' "$gomod")

log "step 2/4: writing wrapper module (staging modules pinned to $staging_version)"
{
  echo "module kgw.dev/apiserver-build"
  echo
  echo "$goline"
  echo
  echo "require k8s.io/kubernetes $version"
  echo
  # every `k8s.io/x => ./staging/src/k8s.io/x` line of the upstream go.mod becomes a pinned replace
  grep -E '^\s*k8s.io/[a-z0-9.-]+ => \./staging/src/' "$gomod" |
    awk -v v="$staging_version" '{ printf "replace %s => %s %s\n", $1, $1, v }'
} >go.mod
cat >main.go <<'EOF'
// Package main only exists so the wrapper module has a package; the build targets
// k8s.io/kubernetes/cmd/kube-apiserver.
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
EOF

log "step 3/4: resolving modules (downloads from the Go module proxy on first run)"
GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2 || true
GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/kube-apiserver@$version" 2>&1 | sed 's/^/  /' >&2

log "step 4/4: compiling kube-apiserver (several minutes on 2 cores; package count shown)"
go_build "$bin.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$bin.tmp" "$bin"
log "built $bin ($(du -h "$bin" | cut -f1))"
echo "$bin"
