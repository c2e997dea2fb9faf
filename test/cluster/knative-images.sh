# shellcheck shell=bash disable=SC2154 # (variables of build-images.sh)
# Sourced by build-images.sh (which defines log, die, setting, inputs, image, go_progress, $images):
# Knative Serving and the KIngress conformance suite, built from Go modules, as images from scratch.
#
# A wrapper module requires knative.dev/serving at KGW_KNATIVE_SERVING_VERSION (serving's go.mod has
# no replace lines, so its own requirements, knative.dev/networking among them, are used as they
# are) and a tools.go names every package built, so `go mod tidy` records all their modules.
# Results under <cache>/images/knative-<v>/:
#   bin/<component>, bin/<test image>, bin/ingress-conformance.test   static binaries
#   config/core/                serving's config/core YAML, copied from the module (ko:// references kept)
#   images.txt                  `ko://knative.dev/serving/cmd/<c> kgw.test/knative/<c>:<v>` per component
#   networking-version          the knative.dev/networking version serving requires
# Images (slug → name):
#   knative-<component>   kgw.test/knative/<component>:<v>     controller activator autoscaler queue webhook
#   knative-test-<name>   kgw.test/knative/<name>:conformance  runtime grpc-ping httpproxy retry timeout wsserver
# (the conformance binary's flags `-dockerrepo kgw.test/knative -tag conformance` name the latter).
# Like ko's images: the binary at /ko-app/<name> as the entrypoint, KO_DATA_PATH=/var/run/ko, user
# 65532 (serving's Deployments ask for runAsNonRoot), a world-writable /tmp.

knative_components=(controller activator autoscaler queue webhook)
knative_test_images=(runtime grpc-ping httpproxy retry timeout wsserver)

knative_prepare() { # -> sets knative_dir
  local v mod gomod
  v=$(setting KGW_KNATIVE_SERVING_VERSION)
  knative_version="$v"
  knative_dir="$images/knative-$v"
  mod="$knative_dir/module"
  mkdir -p "$knative_dir/bin" "$mod"
  command -v go >/dev/null || die "go is required to build Knative"
  if [ ! -f "$mod/.resolved" ]; then
    log "knative: resolving knative.dev/serving@$v and its modules (wrapper module $mod)"
    gomod=$(cd "$mod" && GOFLAGS=-mod=mod go mod download -json "knative.dev/serving@$v" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    [ -f "$gomod" ] || die "could not download knative.dev/serving@$v"
    {
      printf 'module kgw.dev/knative-build\n\n%s\n\nrequire knative.dev/serving %s\n' "$(grep -m1 '^go ' "$gomod")" "$v"
    } >"$mod/go.mod"
    {
      printf '//go:build tools\n\n// Package tools names what build-images.sh builds, so go mod tidy records their modules.\npackage tools\n\nimport (\n'
      local c
      for c in "${knative_components[@]}"; do printf '\t_ "knative.dev/serving/cmd/%s"\n' "$c"; done
      for c in "${knative_test_images[@]}"; do printf '\t_ "knative.dev/networking/test/test_images/%s"\n' "$c"; done
      printf '\t_ "knative.dev/networking/test/conformance/ingress"\n)\n'
    } >"$mod/tools.go"
    printf 'package main\n\nfunc main() {}\n' >"$mod/main.go"
    (cd "$mod" && timeout 1200 env GOFLAGS=-mod=mod go mod tidy 2>&1 | sed 's/^/  /' >&2) || die "go mod tidy failed"
    [ "$(cd "$mod" && go list -m -f '{{.Version}}' knative.dev/serving)" = "$v" ] ||
      die "go mod tidy moved knative.dev/serving away from $v"
    touch "$mod/.resolved"
  fi
  (cd "$mod" && go list -m -f '{{.Version}}' knative.dev/networking) >"$knative_dir/networking-version"
}

knative_binaries() {
  local mod="$knative_dir/module" missing=() c pkgs=() dir
  for c in "${knative_components[@]}"; do
    [ -x "$knative_dir/bin/$c" ] || { missing+=("$c") && pkgs+=("knative.dev/serving/cmd/$c"); }
  done
  for c in "${knative_test_images[@]}"; do
    [ -x "$knative_dir/bin/$c" ] || { missing+=("$c") && pkgs+=("knative.dev/networking/test/test_images/$c"); }
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    log "knative: compiling ${missing[*]} (static; many minutes on 2 busy cores)"
    rm -rf "$knative_dir/bin.tmp"
    mkdir -p "$knative_dir/bin.tmp"
    (cd "$mod" && go_progress 3600 build -v -trimpath -ldflags='-s -w' -o "$knative_dir/bin.tmp/" "${pkgs[@]}") ||
      die "building Knative failed"
    for c in "${missing[@]}"; do mv "$knative_dir/bin.tmp/$c" "$knative_dir/bin/$c"; done
    rm -rf "$knative_dir/bin.tmp"
  fi
  if [ ! -x "$knative_dir/bin/ingress-conformance.test" ]; then
    log "knative: compiling the ingress conformance test binary (go test -c -tags=e2e)"
    (cd "$mod" && go_progress 2400 test -c -v -tags=e2e -trimpath -ldflags='-s -w' \
      -o "$knative_dir/bin/ingress-conformance.test.tmp" knative.dev/networking/test/conformance/ingress) ||
      die "building the conformance test binary failed"
    mv "$knative_dir/bin/ingress-conformance.test.tmp" "$knative_dir/bin/ingress-conformance.test"
  fi
  if [ ! -d "$knative_dir/config/core" ]; then
    dir=$(cd "$mod" && go list -m -f '{{.Dir}}' knative.dev/serving)
    rm -rf "$knative_dir/config.tmp"
    mkdir -p "$knative_dir/config.tmp"
    cp -rL "$dir/config/core" "$knative_dir/config.tmp/core"
    chmod -R u+w "$knative_dir/config.tmp"
    mv "$knative_dir/config.tmp" "$knative_dir/config"
  fi
  for c in "${knative_components[@]}"; do
    printf 'ko://knative.dev/serving/cmd/%s kgw.test/knative/%s:%s\n' "$c" "$c" "$knative_version"
  done >"$knative_dir/images.txt"
}

# build_knative <name>: the binary $knative_bin as /ko-app/<name>
build_knative() {
  local name="$1" c mnt app
  app=$(basename "$knative_bin")
  c=$(new_container scratch)
  mnt=$(buildah mount "$c")
  mkdir -p "$mnt/ko-app" "$mnt/var/run/ko" "$mnt/tmp" "$mnt/etc"
  chmod 1777 "$mnt/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$mnt/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$mnt/etc/group"
  install -m 0755 "$knative_bin" "$mnt/ko-app/$app"
  buildah umount "$c" >/dev/null
  buildah config --entrypoint "[\"/ko-app/$app\"]" --env KO_DATA_PATH=/var/run/ko \
    --env PATH=/ko-app:/usr/local/bin:/usr/bin:/bin --user 65532:65532 \
    --label org.opencontainers.image.description="Knative $app from Go modules (kgw test cluster)" "$c"
  buildah commit --quiet --rm "$c" "$name" >/dev/null
}

knative_images() {
  local c
  knative_prepare
  knative_binaries
  for c in "${knative_components[@]}"; do
    knative_bin="$knative_dir/bin/$c"
    inputs "knative-$c" "binary=$(sha256sum "$knative_bin" | cut -c1-64)" "serving=$knative_version"
    image "knative-$c" "kgw.test/knative/$c:$knative_version" build_knative
  done
  for c in "${knative_test_images[@]}"; do
    knative_bin="$knative_dir/bin/$c"
    inputs "knative-test-$c" "binary=$(sha256sum "$knative_bin" | cut -c1-64)" \
      "networking=$(cat "$knative_dir/networking-version")"
    image "knative-test-$c" "kgw.test/knative/$c:conformance" build_knative
  done
  log "knative: conformance binary $knative_dir/bin/ingress-conformance.test"
  log "knative: serving YAML $knative_dir/config/core (ko:// → image names in $knative_dir/images.txt)"
}
