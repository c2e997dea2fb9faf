#!/usr/bin/env bash
# Builds the Kubernetes binaries kgw's tests run (kube-apiserver for every test; kubelet,
# kube-scheduler, kube-controller-manager and kube-proxy for the real single-node cluster of
# test/cluster, and the kubectl its tests and the cluster demo type, as an admin would) from the k8s.io/kubernetes Go module at a pinned version, into
# <cache>/k8s-<version>/. Only missing binaries are built; with all present it only prints the dir.
#
# k8s.io/kubernetes cannot be `go install`ed directly: its go.mod points the k8s.io/* staging
# modules at local folders. We write one tiny wrapper module that requires k8s.io/kubernetes,
# replaces every staging module with its published v0.Y.Z tag and imports the components'
# packages (so one module graph serves them all), then build each k8s.io/kubernetes/cmd/<name>.
# The binaries carry Kubernetes' version ldflags (go-build.sh: k8s_version_ldflags), so /version
# says v1.34.4, not v0.0.0-master+$Format:%H$.
#
# Cost on 2 busy cores: resolving the modules ~20 s (downloads on the first run); from an empty
# Go build cache kube-apiserver ~6 min, kubelet and kube-controller-manager ~3–6 min each,
# kube-scheduler, kube-proxy and kubectl ~20 s–2 min (they share most packages). A binary whose packages
# are in the Go build cache only relinks (~10–30 s).
#
# Usage: build-k8s.sh [component...]   default: all six; prints <cache>/k8s-<version> last on stdout
# Env:   KGW_K8S_VERSION (default in versions.env), KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
default_version=$(sed -n 's/^KGW_K8S_VERSION=//p' "$here/versions.env")
version="${KGW_K8S_VERSION:-$default_version}"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
out="$cache/k8s-$version"
all=(kube-apiserver kubelet kube-scheduler kube-controller-manager kube-proxy kubectl)

log() { printf '[build-k8s] %s\n' "$*" >&2; }
# shellcheck source=go-build.sh
. "$here/go-build.sh"

wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=("${all[@]}")
for c in "${wanted[@]}"; do
  case " ${all[*]} " in
    *" $c "*) ;;
    *) log "unknown component '$c' (one of: ${all[*]})"; exit 2 ;;
  esac
done

missing=()
for c in "${wanted[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then
  log "cached: ${wanted[*]} in $out"
  echo "$out"
  exit 0
fi
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { log "go is required to build ${missing[*]}"; exit 1; }

staging_version="v0.${version#v1.}"
work="$cache/build-k8s-$version"
mkdir -p "$work" "$out"
cd "$work"
# one build at a time per version (setup.sh and the cluster tier's globalSetup may race)
exec 9>"$work/.lock"
if ! flock -n 9; then
  log "another build-k8s.sh is running for $version; waiting for it"
  flock 9
fi
# it may have built what we miss
missing=()
for c in "${wanted[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then
  log "built by the other run: ${wanted[*]} in $out"
  echo "$out"
  exit 0
fi
log "to build: ${missing[*]} (k8s.io/kubernetes@$version)"

main_go=$(
  cat <<'GO'
// Package main only exists so the wrapper module has a package whose imports pull every
// component's dependencies into one module graph; the builds target k8s.io/kubernetes/cmd/<name>.
package main

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-proxy/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
	_ "k8s.io/kubectl/pkg/cmd"
)

func main() {}
GO
)
if [ -f go.sum ] && [ -f .resolved ] && [ "$(cat .resolved)" = "$version" ] && [ "$(cat main.go 2>/dev/null)" = "$main_go" ]; then
  log "step 1/3: modules resolved before (wrapper in $work)"
else
  log "step 1/3: fetching k8s.io/kubernetes@$version go.mod"
  gomod=$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { log "could not download go.mod of k8s.io/kubernetes@$version"; exit 1; }
  goline=$(grep -m1 '^go ' "$gomod")

  log "step 2/3: wrapper module (staging modules pinned to $staging_version), resolving modules"
  rm -f go.sum .resolved
  {
    echo "module kgw.dev/k8s-build"
    echo
    echo "$goline"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    # every `k8s.io/x => ./staging/src/k8s.io/x` line of the upstream go.mod becomes a pinned replace
    grep -E '^\s*k8s.io/[a-z0-9.-]+ => \./staging/src/' "$gomod" |
      awk -v v="$staging_version" '{ printf "replace %s => %s %s\n", $1, $1, v }'
  } >go.mod
  printf '%s\n' "$main_go" >main.go
  t=$(date +%s)
  GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2 || true
  gets=()
  for c in "${all[@]}"; do gets+=("k8s.io/kubernetes/cmd/$c@$version"); done
  GOFLAGS=-mod=mod go get "${gets[@]}" 2>&1 | sed 's/^/  /' >&2
  echo "$version" >.resolved
  log "  resolved in $(($(date +%s) - t)) s"
fi

ldflags=$(k8s_version_ldflags "$version")
i=0
for c in "${missing[@]}"; do
  i=$((i + 1))
  log "step 3/3: compiling $c ($i/${#missing[@]}; minutes when its packages are not in the Go build cache)"
  go_build "$out/$c.tmp" "k8s.io/kubernetes/cmd/$c" "$ldflags"
  mv "$out/$c.tmp" "$out/$c"
done
log "built ${missing[*]} in $out"
echo "$out"
