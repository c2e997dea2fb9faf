# shellcheck shell=bash
# Sourced by build-k8s.sh, build-cert-manager.sh and build-go-tool.sh (which define `log`).
#
# go_build <output> <package> [extra ldflags]: builds one Go package into a static binary at
# <output>, showing progress. `go build -v` prints one import path per compiled package (a line
# without spaces): those are counted, one progress line per 100. Everything else (`# pkg`
# headers, `file.go:12:3: message` diagnostics, `go: ...` errors) is a real diagnostic and is
# shown as is. On failure <output> is removed and the script exits 1. The extra ldflags only
# change the link step: packages compiled before come from the Go build cache.
go_build() {
  local out="$1" pkg="$2" extra="${3:-}" status start
  start=$(date +%s)
  set +e
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -v -trimpath -ldflags="-s -w${extra:+ $extra}" -o "$out" "$pkg" 2>&1 |
    {
      n=0
      while IFS= read -r line; do
        case "$line" in
          '') ;;
          *' '* | '#'* | *.go:[0-9]*) printf '  %s\n' "$line" >&2 ;;
          *)
            n=$((n + 1))
            if [ $((n % 100)) -eq 0 ]; then log "  compiled $n packages…"; fi
            ;;
        esac
      done
    }
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" -ne 0 ] || [ ! -x "$out" ]; then
    rm -f "$out"
    log "build failed (go build exit $status)"
    exit 1
  fi
  log "  $(basename "${out%.tmp}"): $(($(date +%s) - start)) s, $(du -h "$out" | cut -f1)"
}

# k8s_version_ldflags <version, e.g. v1.34.4>: the -X flags Kubernetes' own build sets, so that
# /version, `kubelet --version` and the node's kubeletVersion say v1.34.4 instead of
# v0.0.0-master+$Format:%H$ (which semver parsers such as Knative's start-up check reject).
# -X on a package a binary does not link is ignored, so every binary gets the same flags.
k8s_version_ldflags() {
  local version="$1" major minor flags='' pkg
  major=$(printf '%s' "$version" | sed -n 's/^v\([0-9]*\)\..*/\1/p')
  minor=$(printf '%s' "$version" | sed -n 's/^v[0-9]*\.\([0-9]*\)\..*/\1/p')
  if [ -z "$major" ] || [ -z "$minor" ]; then
    log "not a vX.Y.Z version: $version"
    exit 1
  fi
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean"
  done
  printf '%s' "${flags# }"
}
