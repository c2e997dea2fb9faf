# Sourced by build-apiserver.sh and build-cert-manager.sh (which define `log`).
#
# go_build <output> <package>: builds one Go package into a static binary at <output>, showing
# progress. `go build -v` prints one import path per compiled package (a line without spaces):
# those are counted, one progress line per 100. Everything else (`# pkg` headers,
# `file.go:12:3: message` diagnostics, `go: ...` errors) is a real diagnostic and is shown as is.
# On failure <output> is removed and the script exits 1.
go_build() {
  local out="$1" pkg="$2" status
  set +e
  GOFLAGS=-mod=mod CGO_ENABLED=0 go build -v -trimpath -ldflags='-s -w' -o "$out" "$pkg" 2>&1 |
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
  [ "$status" -eq 0 ] && [ -x "$out" ] || {
    rm -f "$out"
    log "build failed (go build exit $status)"
    exit 1
  }
}
