#!/usr/bin/env bash
# Builds test/env/olm-validate (operator-framework's bundle validators: operator-framework/api's
# pkg/validation and operator-registry's pkg/lib/bundle, at the versions OLM KGW_OLM_VERSION
# requires) into <cache>/olm-validate-<hash>/olm-validate, where <hash> covers main.go, this
# script and the versions: a wrapper module in <cache>/build-olm-validate/ requires the two
# modules, `go mod tidy` resolves the rest (Go module proxy), go-build.sh compiles with progress.
# Only builds when the binary is missing; prints its path on the last line of stdout.
# Cold: ~1 min to resolve and download, a few minutes to compile (k8s apiextensions-apiserver
# validation); warm: instant.
# Env: KGW_CACHE_DIR, KGW_OPERATOR_API_VERSION, KGW_OPERATOR_REGISTRY_VERSION (versions.env).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
log() { printf '[build-olm-validate] %s\n' "$*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

setting() { # setting <KEY>: env overrides versions.env
  local v="${!1:-}"
  [ -n "$v" ] || v=$(sed -n "s/^$1=//p" "$here/versions.env")
  [ -n "$v" ] || { log "no $1 in the environment or test/env/versions.env"; exit 1; }
  printf '%s' "$v"
}
api=$(setting KGW_OPERATOR_API_VERSION)
registry=$(setting KGW_OPERATOR_REGISTRY_VERSION)
src="$here/olm-validate/main.go"
hash=$({ cat "$src" "${BASH_SOURCE[0]}"; printf 'api=%s registry=%s\n' "$api" "$registry"; } | sha256sum | cut -c1-12)
out="$cache/olm-validate-$hash"
bin="$out/olm-validate"

if [ -x "$bin" ]; then
  log "cached: $bin"
  echo "$bin"
  exit 0
fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { log "go is required to build olm-validate"; exit 1; }

work="$cache/build-olm-validate"
mkdir -p "$work" "$out"
exec 9>"$work/.lock"
flock -w 3600 9 || { log "another build holds $work/.lock"; exit 1; }
if [ -x "$bin" ]; then
  log "built by another run: $bin"
  echo "$bin"
  exit 0
fi
cd "$work"
log "step 1/2: wrapper module (operator-framework/api $api, operator-registry $registry), resolving modules"
rm -f go.mod go.sum ./*.go
cat >go.mod <<MOD
module kgw.dev/olm-validate

go 1.23.0

require (
	github.com/operator-framework/api $api
	github.com/operator-framework/operator-registry $registry
)
MOD
cp "$src" main.go
t=$(date +%s)
timeout 1200 env GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2
[ "${PIPESTATUS[0]}" -eq 0 ] || { log "go mod tidy failed"; exit 1; }
for m in "github.com/operator-framework/api $api" "github.com/operator-framework/operator-registry $registry"; do
  [ "$(go list -m -f '{{.Path}} {{.Version}}' "${m% *}")" = "$m" ] || { log "go mod tidy moved ${m% *} away from ${m#* }"; exit 1; }
done
log "  resolved in $(($(date +%s) - t)) s"
log "step 2/2: compiling (minutes when its packages are not in the Go build cache)"
go_build "$bin.tmp" .
mv "$bin.tmp" "$bin"
echo "$bin"
