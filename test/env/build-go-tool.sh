#!/usr/bin/env bash
# Builds one Go command from a module at a pinned version into <cache>/<name>-<version>/<name>:
# a wrapper module that `go get`s the package (and repeats the upstream single-line replace
# directives, which are not honoured for dependencies), then go-build.sh's go_build with progress.
# Only builds when the binary is missing; prints its path on the last line of stdout.
#
# Usage: build-go-tool.sh <name> <module> <version> <package> [extra ldflags]
#   build-go-tool.sh crictl sigs.k8s.io/cri-tools v1.34.0 sigs.k8s.io/cri-tools/cmd/crictl
#   build-go-tool.sh coredns github.com/coredns/coredns v1.15.0 github.com/coredns/coredns
# Env:   KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw)
set -euo pipefail

[ $# -ge 4 ] || { echo "usage: $0 <name> <module> <version> <package> [extra ldflags]" >&2; exit 2; }
name="$1" module="$2" version="$3" pkg="$4" extra="${5:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
out="$cache/$name-$version"
bin="$out/$name"

log() { printf '[build-%s] %s\n' "$name" "$*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

if [ -x "$bin" ]; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { log "go is required to build $name"; exit 1; }

work="$cache/build-$name-$version"
mkdir -p "$work" "$out"
cd "$work"
exec 9>"$work/.lock"
flock 9
if [ -x "$bin" ]; then
  log "built by another run: $bin"
  echo "$bin"
  exit 0
fi

log "step 1/3: fetching $module@$version go.mod"
gomod=$(GOFLAGS=-mod=mod go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || { log "could not download go.mod of $module@$version"; exit 1; }
goline=$(grep -m1 '^go ' "$gomod")

log "step 2/3: wrapper module, resolving modules (downloads on the first run)"
{
  echo "module kgw.dev/$name-build"
  echo
  echo "$goline"
  echo
  grep -E '^replace [^ ]+( v[^ ]+)? => [^.]' "$gomod" || true
} >go.mod
rm -f go.sum
t=$(date +%s)
GOFLAGS=-mod=mod go get "$pkg@$version" 2>&1 | sed 's/^/  /' >&2
log "  resolved in $(($(date +%s) - t)) s"

log "step 3/3: compiling $pkg (minutes when its packages are not in the Go build cache)"
go_build "$bin.tmp" "$pkg" "$extra"
mv "$bin.tmp" "$bin"
echo "$bin"
