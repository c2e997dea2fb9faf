# shellcheck shell=bash disable=SC2154 # (variables of build-images.sh)
# Sourced by build-images.sh (which defines log, die, setting, inputs, image, go_progress, finish,
# new_container, ensure_loaded, $images, $repo): OLM (operator-lifecycle-manager) and opm
# (operator-registry) built from Go modules, and kgw's OLM bundle and a catalog serving it, as
# images. Opt-in: `build-images.sh olm`.
#
# A wrapper module requires OLM at KGW_OLM_VERSION and repeats its go.mod's replace directives
# (they are not honoured for a dependency); tools.go names every package built, so `go mod tidy`
# records their modules; operator-registry is the version OLM's go.mod requires. Results under
# <cache>/images/olm-<v>/:
#   bin/{olm,catalog,copy-content,cpb,opm,grpc_health_probe}   static binaries
#   deploy/crds/, deploy/olm.yaml  OLM's deploy/chart/crds and deploy/upstream/quickstart/olm.yaml,
#                                  copied from the module
#   catalog/kgw/catalog.yaml       the file-based catalog the catalog image serves (opm render)
#   registry-version               the operator-registry version (opm) OLM requires
# Images (slug → name):
#   olm           kgw.test/olm/olm:<v>             debian base + /bin/{olm,catalog,cpb,copy-content}
#                 (also OLM's -util-image: the bundle unpack Job runs its /bin/cp to copy cpb)
#   opm           kgw.test/olm/opm:<registry v>    scratch + /bin/opm + /bin/grpc_health_probe
#                 (the catalog operator's -opmImage: `opm alpha bundle extract` in the unpack Job)
#   olm-bundle    kgw.test/olm/kgw-bundle:v<kgw>   `buildah bud` of bundle/bundle.Dockerfile, unchanged
#   olm-catalog   kgw.test/olm/kgw-catalog:v<kgw>  opm image + the catalog, `opm serve /configs`
# OLM pulls catalog and bundle images with imagePullPolicy Always unless they are named by digest
# (pkg/lib/image InferImagePullPolicy), and nothing can be pulled here: those two are OCI archives
# whose index names each image twice, by tag and by digest (io.containerd.image.name), so one
# `ctr images import` makes `<name>@sha256:<manifest digest>` resolvable on the node. The catalog
# refers to the bundle by digest; `--timestamp 0` keeps the bundle's digest reproducible.
# <slug>.json gains "digestName" for them. (inputs() hashes build_<slug up to the first dash>, i.e.
# build_olm for olm-bundle and olm-catalog: their own builders are listed in their inputs too.)

olm_packages=(
  github.com/operator-framework/operator-lifecycle-manager/cmd/olm
  github.com/operator-framework/operator-lifecycle-manager/cmd/catalog
  github.com/operator-framework/operator-lifecycle-manager/cmd/copy-content
  github.com/operator-framework/operator-lifecycle-manager/util/cpb
  github.com/operator-framework/operator-registry/cmd/opm
  github.com/grpc-ecosystem/grpc-health-probe
)
# binary name of each package (go build -o dir/ names them after the last path element)
olm_bin_name() {
  case "$1" in
    */grpc-health-probe) printf 'grpc_health_probe' ;;
    *) printf '%s' "${1##*/}" ;;
  esac
}

olm_prepare() { # -> sets olm_version, olm_dir, olm_registry_version
  local mod gomod p
  olm_version=$(setting KGW_OLM_VERSION)
  olm_dir="$images/olm-$olm_version"
  mod="$olm_dir/module"
  mkdir -p "$olm_dir/bin" "$mod"
  command -v go >/dev/null || die "go is required to build OLM"
  if [ ! -f "$mod/.resolved" ]; then
    log "olm: resolving operator-lifecycle-manager@$olm_version and its modules (wrapper module $mod)"
    gomod=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json \
      "github.com/operator-framework/operator-lifecycle-manager@$olm_version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -f "$gomod" ] || die "could not download operator-lifecycle-manager@$olm_version"
    {
      printf 'module kgw.dev/olm-build\n\n%s\n\n' "$(grep -m1 '^go ' "$gomod")"
      # OLM's replace directives: single lines and blocks, comments dropped
      sed -n -e '/^replace (/,/^)/p' -e '/^replace [^(]/p' "$gomod" | sed -e 's#[[:space:]]*//.*$##' -e '/^[[:space:]]*$/d'
      printf '\nrequire github.com/operator-framework/operator-lifecycle-manager %s\n' "$olm_version"
    } >"$mod/go.mod"
    {
      printf '//go:build tools\n\n// Package tools names what build-images.sh builds, so go mod tidy records their modules.\npackage tools\n\nimport (\n'
      for p in "${olm_packages[@]}"; do printf '\t_ "%s"\n' "$p"; done
      printf ')\n'
    } >"$mod/tools.go"
    printf 'package main\n\nfunc main() {}\n' >"$mod/main.go"
    (cd "$mod" && timeout 1200 env GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2) || die "go mod tidy failed"
    [ "$(cd "$mod" && go list -m -f '{{.Version}}' github.com/operator-framework/operator-lifecycle-manager)" = "$olm_version" ] ||
      die "go mod tidy moved operator-lifecycle-manager away from $olm_version"
    touch "$mod/.resolved"
  fi
  olm_registry_version=$(cd "$mod" && go list -m -f '{{.Version}}' github.com/operator-framework/operator-registry)
  printf '%s\n' "$olm_registry_version" >"$olm_dir/registry-version"
}

# the -X flags OLM's and operator-registry's Makefiles set (`olm --version`, `opm version`): the
# versions, the tags' commits and (opm) the tag's date, from the module proxy's .info files
olm_version_ldflags() {
  local info olm_commit reg_commit reg_date
  info=$(cd "$olm_dir/module" && go mod download -json "github.com/operator-framework/operator-lifecycle-manager@$olm_version")
  olm_commit=$(printf '%s' "$info" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -n1)
  info=$(cd "$olm_dir/module" && go mod download -json "github.com/operator-framework/operator-registry@$olm_registry_version")
  reg_commit=$(printf '%s' "$info" | sed -n 's/.*"Hash": "\([0-9a-f]*\)".*/\1/p' | head -n1)
  reg_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(printf '%s' "$info" | sed -n 's/.*"Info": "\(.*\)".*/\1/p')")
  printf -- "-X github.com/operator-framework/operator-lifecycle-manager/pkg/version.OLMVersion=%s" "${olm_version#v}"
  printf -- " -X github.com/operator-framework/operator-lifecycle-manager/pkg/version.GitCommit=%s" "$olm_commit"
  printf -- " -X github.com/operator-framework/operator-registry/cmd/opm/version.opmVersion=%s" "$olm_registry_version"
  printf -- " -X github.com/operator-framework/operator-registry/cmd/opm/version.gitCommit=%s" "$reg_commit"
  printf -- " -X github.com/operator-framework/operator-registry/cmd/opm/version.buildDate=%s" "$reg_date"
}

olm_binaries() {
  local mod="$olm_dir/module" missing=() pkgs=() p b dir ldflags
  # binaries built with other flags are built again (the link step only: packages are cached)
  ldflags="-s -w $(olm_version_ldflags)"
  if [ "$(cat "$olm_dir/bin/ldflags" 2>/dev/null)" != "$ldflags" ]; then
    rm -f "$olm_dir"/bin/*
    printf '%s\n' "$ldflags" >"$olm_dir/bin/ldflags"
  fi
  for p in "${olm_packages[@]}"; do
    b=$(olm_bin_name "$p")
    [ -x "$olm_dir/bin/$b" ] || { missing+=("$b") && pkgs+=("$p"); }
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "olm: compiling ${missing[*]} (static; ~10 min cold on 2 busy cores)"
    rm -rf "$olm_dir/bin.tmp"
    mkdir -p "$olm_dir/bin.tmp"
    (cd "$mod" && go_progress 3600 build -v -trimpath -ldflags="$ldflags" -o "$olm_dir/bin.tmp/" "${pkgs[@]}") ||
      die "building OLM failed"
    for p in "${pkgs[@]}"; do
      b=$(olm_bin_name "$p")
      [ "$b" = "${p##*/}" ] || mv "$olm_dir/bin.tmp/${p##*/}" "$olm_dir/bin.tmp/$b"
      mv "$olm_dir/bin.tmp/$b" "$olm_dir/bin/$b"
    done
    rm -rf "$olm_dir/bin.tmp"
  fi
  if [ ! -d "$olm_dir/deploy/crds" ]; then
    dir=$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/operator-framework/operator-lifecycle-manager)
    rm -rf "$olm_dir/deploy.tmp"
    mkdir -p "$olm_dir/deploy.tmp"
    # the quickstart's crds.yaml is stale at v0.31.0 (its CatalogSource has no spec.grpcPodConfig):
    # the chart's CRDs are the ones the release's crds.yaml is rendered from
    mkdir -p "$olm_dir/deploy.tmp/crds"
    cp "$dir"/deploy/chart/crds/*.yaml "$olm_dir/deploy.tmp/crds/"
    cp "$dir/deploy/upstream/quickstart/olm.yaml" "$olm_dir/deploy.tmp/"
    chmod -R u+w "$olm_dir/deploy.tmp"
    rm -rf "$olm_dir/deploy"
    mv "$olm_dir/deploy.tmp" "$olm_dir/deploy"
  fi
}

build_olm() { # OLM's operators and utilities on the debian base (the unpack Job runs its /bin/cp)
  local name="$1" c b
  ensure_loaded base
  c=$(new_container "$(image_name base)")
  for b in olm catalog cpb copy-content; do
    buildah copy --quiet --chmod 0755 "$c" "$olm_dir/bin/$b" "/bin/$b" >/dev/null
  done
  buildah run "$c" -- /bin/olm --version >/dev/null || die "olm does not run in the image"
  buildah config --user 1001 --entrypoint '[]' --cmd '["/bin/olm"]' \
    --label org.opencontainers.image.description="OLM $olm_version from Go modules (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

build_opm() { # like operator-registry's opm image: /bin/opm, /bin/grpc_health_probe, nsswitch.conf
  local name="$1" c mnt
  c=$(new_container scratch)
  mnt=$(buildah mount "$c")
  mkdir -p "$mnt/bin" "$mnt/etc" "$mnt/tmp"
  chmod 1777 "$mnt/tmp"
  install -m 0755 "$olm_dir/bin/opm" "$mnt/bin/opm"
  install -m 0755 "$olm_dir/bin/grpc_health_probe" "$mnt/bin/grpc_health_probe"
  printf 'hosts: files dns\n' >"$mnt/etc/nsswitch.conf"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nopm:x:1001:0:opm:/tmp:/sbin/nologin\n' >"$mnt/etc/passwd"
  buildah umount "$c" >/dev/null
  buildah config --user 1001 --env PATH=/bin --entrypoint '["/bin/opm"]' --cmd '[]' \
    --label org.opencontainers.image.description="opm $olm_registry_version from Go modules (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

build_bundle() { # the repository's bundle.Dockerfile, unchanged (FROM scratch: nothing to pull)
  local name="$1"
  timeout 600 buildah bud --pull=never --layers=false --timestamp 0 --quiet \
    -f "$repo/bundle/bundle.Dockerfile" -t "$name" "$repo/bundle" >/dev/null || die "buildah bud of bundle.Dockerfile failed"
}

# the file-based catalog: package, channel(s) from the bundle's annotations, the bundle rendered by
# `opm render` with its image set to the bundle's digest reference; `opm validate` checks it
olm_render_catalog() { # olm_render_catalog <bundle digest name> <dir>
  local bundle_ref="$1" dir="$2" ann="$repo/bundle/metadata/annotations.yaml" pkg channel csv
  pkg=$(sed -n 's/^ *operators.operatorframework.io.bundle.package.v1: *//p' "$ann")
  channel=$(sed -n 's/^ *operators.operatorframework.io.bundle.channel.default.v1: *//p' "$ann")
  csv=$(sed -n 's/^  name: *//p' "$repo"/bundle/manifests/*.clusterserviceversion.yaml | head -n1)
  # shellcheck disable=SC2015 # (die exits)
  [ -n "$pkg" ] && [ -n "$channel" ] && [ -n "$csv" ] || die "no package/default channel/CSV name in bundle/"
  rm -rf "$dir"
  mkdir -p "$dir/$pkg"
  {
    printf -- '---\nschema: olm.package\nname: %s\ndefaultChannel: %s\n' "$pkg" "$channel"
    printf -- '---\nschema: olm.channel\npackage: %s\nname: %s\nentries:\n  - name: %s\n' "$pkg" "$channel" "$csv"
    timeout 300 "$olm_dir/bin/opm" render "$repo/bundle" --output yaml |
      sed "s#^image: *[\"']*[\"']*\$#image: $bundle_ref#"
  } >"$dir/$pkg/catalog.yaml" || die "opm render of bundle/ failed"
  grep -q "^image: $bundle_ref\$" "$dir/$pkg/catalog.yaml" || die "opm render gave no image line to set"
  timeout 300 "$olm_dir/bin/opm" validate "$dir" || die "opm validate rejects the catalog ($dir)"
}

build_catalog() { # opm image + /configs, its serve cache built in advance (as upstream catalogs do)
  local name="$1" c mnt
  ensure_loaded opm
  c=$(new_container "$(image_name opm)")
  mnt=$(buildah mount "$c")
  mkdir -p "$mnt/configs"
  cp -r "$olm_dir/catalog/." "$mnt/configs/"
  buildah umount "$c" >/dev/null
  buildah run --user 0 --network=none "$c" -- /bin/opm serve /configs --cache-dir=/tmp/cache --cache-only --pprof-addr=127.0.0.1:6060 ||
    die "opm serve --cache-only failed"
  buildah run --user 0 "$c" -- /bin/opm version >/dev/null
  mnt=$(buildah mount "$c")
  chmod -R a+rwX "$mnt/tmp/cache"
  buildah umount "$c" >/dev/null
  buildah config --cmd '["serve", "/configs", "--cache-dir=/tmp/cache"]' --port 50051 \
    --label operators.operatorframework.io.index.configs.v1=/configs \
    --label org.opencontainers.image.description="kgw's OLM catalog (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

# finish_oci <slug> <name> <seconds>: like finish, as an OCI archive whose index also names the
# image by its manifest digest; <slug>.json gets "digestName"
finish_oci() {
  local slug="$1" name="$2" secs="$3" tar="$images/$1.tar" layout="$work/$1.oci" digest bytes
  rm -rf "$layout" "$tar.tmp"
  buildah push --quiet "$name" "oci:$layout:$name" >/dev/null
  # shellcheck disable=SC2016 # (JavaScript)
  digest=$("$node24" -e '
    const fs = require("node:fs");
    const [file, name] = process.argv.slice(1);
    const index = JSON.parse(fs.readFileSync(file, "utf8"));
    if (index.manifests.length !== 1) throw new Error(`${file}: ${index.manifests.length} manifests`);
    const m = index.manifests[0];
    const repo = name.replace(/:[^:/]+$/, "");
    index.manifests = [name, `${repo}@${m.digest}`].map((n) => ({
      ...m,
      annotations: { ...m.annotations, "io.containerd.image.name": n, "org.opencontainers.image.ref.name": n },
    }));
    fs.writeFileSync(file, JSON.stringify(index));
    console.log(m.digest);
  ' "$layout/index.json" "$name") || die "could not name $name by digest"
  tar -C "$layout" -cf "$tar.tmp" oci-layout index.json blobs
  rm -rf "$layout"
  mv "$tar.tmp" "$tar"
  bytes=$(stat -c %s "$tar")
  printf '{"slug": "%s", "name": "%s", "digestName": "%s", "tarball": "%s", "hash": "%s", "bytes": %s, "buildSeconds": %s, "builtAt": "%s"}\n' \
    "$slug" "$name" "${name%:*}@$digest" "$tar" "$(hash_of "$slug")" "$bytes" "$secs" "$(date -u +%FT%TZ)" >"$images/$slug.json"
  hash_of "$slug" >"$images/$slug.hash"
  log "$slug: built $name in ${secs}s, $((bytes / 1048576)) MiB (${name%:*}@$digest)"
}

# oci_image <slug> <name> <builder>: image(), finished by finish_oci
oci_image() {
  local slug="$1" name="$2" builder="$3" start
  if cached "$slug" && [ "$(image_name "$slug")" = "$name" ]; then
    log "$slug: cached ($name, inputs $(hash_of "$slug" | cut -c1-12))"
  else
    log "$slug: building $name (inputs $(hash_of "$slug" | cut -c1-12); listed in $slug.inputs)"
    start=$(date +%s)
    "$builder" "$name"
    finish_oci "$slug" "$name" "$(($(date +%s) - start))"
  fi
  built+=("$slug")
  printf '%s %s %s\n' "$slug" "$name" "$images/$slug.tar"
}
digest_name() { sed -n 's/.*"digestName": "\([^"]*\)".*/\1/p' "$images/$1.json"; }

olm_images() {
  local kgw_version bundle_sums
  olm_prepare
  olm_binaries
  inputs olm "base=$(cat "$images/base.hash")" "olm=$olm_version" \
    "binaries=$(cd "$olm_dir/bin" && sha256sum olm catalog cpb copy-content | sha256sum | cut -c1-64)"
  image olm "kgw.test/olm/olm:$olm_version" build_olm
  inputs opm "operator-registry=$olm_registry_version" \
    "binaries=$(cd "$olm_dir/bin" && sha256sum opm grpc_health_probe | sha256sum | cut -c1-64)"
  image opm "kgw.test/olm/opm:$olm_registry_version" build_opm

  kgw_version=$(sed -n 's/^  version: *//p' "$repo"/bundle/manifests/*.clusterserviceversion.yaml | head -n1)
  [ -n "$kgw_version" ] || die "no spec.version in bundle/manifests/*.clusterserviceversion.yaml"
  bundle_sums=$(cd "$repo" && sha_files bundle)
  inputs olm-bundle "files:" "$bundle_sums" "builder build_bundle:" "$(declare -f build_bundle finish_oci)"
  oci_image olm-bundle "kgw.test/olm/kgw-bundle:v$kgw_version" build_bundle

  olm_render_catalog "$(digest_name olm-bundle)" "$olm_dir/catalog.new"
  inputs olm-catalog "opm=$(cat "$images/opm.hash")" \
    "builder build_catalog:" "$(declare -f build_catalog olm_render_catalog finish_oci)" \
    "catalog=$(cd "$olm_dir/catalog.new" && sha_files . | sha256sum | cut -c1-64)"
  rm -rf "$olm_dir/catalog"
  mv "$olm_dir/catalog.new" "$olm_dir/catalog"
  oci_image olm-catalog "kgw.test/olm/kgw-catalog:v$kgw_version" build_catalog
  log "olm: OLM manifests $olm_dir/deploy (crds/, olm.yaml); catalog $olm_dir/catalog"
}
