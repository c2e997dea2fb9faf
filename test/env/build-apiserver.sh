#!/usr/bin/env bash
# Builds (if missing) and prints the path of kube-apiserver: kept for callers of the old script;
# build-k8s.sh does the work (cache <cache>/k8s-<version>/kube-apiserver).
#
# Usage: build-apiserver.sh            prints the binary path on the last line of stdout
# Env:   KGW_K8S_VERSION (default in versions.env), KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir=$(bash "$here/build-k8s.sh" kube-apiserver | tail -n1)
echo "$dir/kube-apiserver"
