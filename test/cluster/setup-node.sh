#!/usr/bin/env bash
# Installs and builds what the real single-node cluster of test/cluster (cluster.ts) runs:
#   1. Debian packages: containerd, runc, containernetworking-plugins (bridge, portmap,
#      host-local in /usr/lib/cni), iptables, nftables, conntrack, buildah (test images) and
#      etcd-server. Nothing auto-starts (no systemd here): cluster.ts starts containerd itself.
#   2. kube-apiserver, kubelet, kube-scheduler, kube-controller-manager, kube-proxy
#      (test/env/build-k8s.sh, <cache>/k8s-<version>/)
#   3. crictl (teardown of pod sandboxes) and CoreDNS, as binaries (test/env/build-go-tool.sh,
#      <cache>/crictl-<v>/crictl, <cache>/coredns-<v>/coredns)
#   4. the test images (pause, echo) as image tarballs (build-test-images.sh)
#
# Idempotent and fast (~0.2 s) when everything is there; `apt-get update` runs at most once and
# only if a package is missing. First run: minutes of Go builds, with progress on stderr.
#
# Usage: setup-node.sh [--no-images]     the last line of stdout is a JSON summary of the paths
# Env:   KGW_CACHE_DIR, KGW_K8S_VERSION, KGW_CRICTL_VERSION, KGW_COREDNS_VERSION (versions.env)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
envdir="$(cd "$here/../env" && pwd)"
pinned() { local v; v=$(sed -n "s/^$1=//p" "$envdir/versions.env"); printf '%s' "${!1:-$v}"; }
k8s_version=$(pinned KGW_K8S_VERSION)
crictl_version=$(pinned KGW_CRICTL_VERSION)
coredns_version=$(pinned KGW_COREDNS_VERSION)
images=1
[ "${1:-}" = "--no-images" ] && images=0
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup-node] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ "$(id -u)" -eq 0 ] || die "the cluster needs root (containerd, kubelet, network setup)"
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi

# ---------------------------------------------------------------------------------------------
log "1/4 Debian packages"
packages=(containerd runc containernetworking-plugins iptables nftables conntrack buildah etcd-server)
missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "apt-get not found; install ${missing[*]} by hand"
  # another engineer's apt may hold the lock: wait for it (bounded)
  apt_opts=(-o DPkg::Lock::Timeout=600 -y -qq --no-install-recommends)
  if ! apt-get install "${apt_opts[@]}" --simulate "${missing[@]}" >/dev/null 2>&1; then
    log "  apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
  fi
  log "  apt-get install ${missing[*]}"
  apt-get install "${apt_opts[@]}" "${missing[@]}" >&2
else
  log "  present"
fi
for c in containerd ctr runc iptables nft conntrack buildah etcd; do
  command -v "$c" >/dev/null || die "$c not found after installing the packages"
done
for p in bridge portmap host-local loopback; do
  [ -x "/usr/lib/cni/$p" ] || die "CNI plugin /usr/lib/cni/$p missing (package containernetworking-plugins)"
done

# ---------------------------------------------------------------------------------------------
log "2/4 Kubernetes $k8s_version binaries"
k8s_dir=$(bash "$envdir/build-k8s.sh" | tail -n1)

# ---------------------------------------------------------------------------------------------
log "3/4 crictl $crictl_version and CoreDNS $coredns_version"
crictl_bin=$(bash "$envdir/build-go-tool.sh" crictl sigs.k8s.io/cri-tools "$crictl_version" \
  sigs.k8s.io/cri-tools/cmd/crictl "-X sigs.k8s.io/cri-tools/pkg/version.Version=$crictl_version" | tail -n1)
coredns_bin=$(bash "$envdir/build-go-tool.sh" coredns github.com/coredns/coredns "$coredns_version" \
  github.com/coredns/coredns | tail -n1)

# ---------------------------------------------------------------------------------------------
images_dir=''
if [ "$images" -eq 1 ]; then
  log "4/4 test images (pause, echo)"
  images_dir=$(bash "$here/build-test-images.sh" | tail -n1)
else
  log "4/4 test images: skipped (--no-images)"
fi

log "summary:"
log "  containerd      $(containerd --version 2>/dev/null | awk '{print $3}'), runc $(runc --version 2>/dev/null | sed -n 's/^runc version //p'), CNI /usr/lib/cni"
log "  kubernetes      $k8s_dir ($("$k8s_dir/kubelet" --version 2>/dev/null))"
log "  crictl          $crictl_bin"
log "  coredns         $coredns_bin"
[ -z "$images_dir" ] || log "  test images     $images_dir"
printf '{"k8sDir":"%s","crictl":"%s","coredns":"%s","imagesDir":"%s"}\n' \
  "$k8s_dir" "$crictl_bin" "$coredns_bin" "$images_dir"
