#!/usr/bin/env bash
# Builds the real cert-manager controller from the github.com/cert-manager/cert-manager Go module
# at a pinned version and caches the binary and the module's CRDs under the user cache dir. A
# second run with the same version only prints the path.
#
# Why v1.11.x: from v1.12 on, cert-manager's binaries (cmd/controller, …) are separate Go modules
# whose module paths (e.g. github.com/cert-manager/cert-manager/controller-binary) do not match
# their folders, so the Go module proxy does not serve them; only the library module is
# fetchable, and it has no main package for the controller. v1.11 is the last release whose
# root module still contains cmd/controller. Its cert-manager.io/v1 API (Certificate spec,
# status notAfter/renewalTime, Ready/Issuing conditions) is what kgw uses.
#
# Like build-k8s.sh, we write a tiny wrapper module that requires cert-manager (the upstream
# go.mod's replace directives are not honoured for dependencies, so they are repeated here) and
# build github.com/cert-manager/cert-manager/cmd/controller from it.
#
# Usage: build-cert-manager.sh   prints the cache dir (binary `controller`, CRDs in `crds/`) last
# Env:   KGW_CERT_MANAGER_VERSION (default in versions.env), KGW_CACHE_DIR
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
default_version=$(sed -n 's/^KGW_CERT_MANAGER_VERSION=//p' "$here/versions.env")
version="${KGW_CERT_MANAGER_VERSION:-${default_version:-v1.11.5}}"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
out="$cache/cert-manager-$version"
bin="$out/controller"
module=github.com/cert-manager/cert-manager

log() { printf '[build-cert-manager] %s\n' "$*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

if [ -x "$bin" ] && [ -d "$out/crds" ]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { log "go is required to build cert-manager"; exit 1; }

work="$cache/build-cert-manager-$version"
mkdir -p "$work" "$out"
cd "$work"

log "step 1/4: fetching $module@$version"
json=$(GOFLAGS=-mod=mod go mod download -json "$module@$version")
gomod=$(printf '%s\n' "$json" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
srcdir=$(printf '%s\n' "$json" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -f "$gomod" ] && [ -d "$srcdir/cmd/controller" ] || {
  log "$module@$version has no cmd/controller in its root module (see the header of this script)"
  exit 1
}
goline=$(grep -m1 '^go ' "$gomod")

log "step 2/4: writing wrapper module"
{
  echo "module kgw.dev/cert-manager-build"
  echo
  echo "$goline"
  echo
  echo "require $module $version"
  echo
  # single-line replace directives of the upstream go.mod (none of them point at local folders)
  grep -E '^replace [^ ]+( v[^ ]+)? => [^.]' "$gomod" || true
} >go.mod
cat >main.go <<EOF
// Package main only exists so the wrapper module has a package; the build targets
// $module/cmd/controller.
package main

import _ "$module/cmd/controller/app"

func main() {}
EOF

log "step 3/4: resolving modules (downloads from the Go module proxy on first run)"
GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2 || true

log "step 4/4: compiling the cert-manager controller (package count shown)"
go_build "$bin.tmp" "$module/cmd/controller"

# The CRDs ship as Helm templates (templated labels only); the test loader drops metadata.labels.
rm -rf "$out/crds"
mkdir -p "$out/crds"
cp "$srcdir"/deploy/crds/crd-*.yaml "$out/crds/"
chmod u+w "$out"/crds/*.yaml
mv "$bin.tmp" "$bin"
log "built $bin ($(du -h "$bin" | cut -f1)), CRDs in $out/crds"
echo "$out"
