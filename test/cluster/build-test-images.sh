#!/usr/bin/env bash
# Builds the two test images the cluster tier needs, from two tiny static Go programs (no
# registry, no base image): `buildah from scratch` + the binary, saved as docker-archive tarballs
# that cluster.ts imports with `ctr -n k8s.io images import`.
#   localhost/kgw-test/pause:1   the Pod sandbox image (containerd's sandbox_image): sleeps as
#                                PID 1, reaps zombies, exits 0 on SIGINT/SIGTERM (what
#                                kubernetes' build/pause/linux/pause.c does)
#   localhost/kgw-test/echo:1    an HTTP server on :8080 (PORT) answering
#                                `hello from <hostname> <method> <path>`; with args
#                                `get <url>...` a client (https: the Pod's service account
#                                token and CA), for Pod → Service / API server checks
# Cached under <cache>/test-images-<hash of this script>/ (pause.tar, echo.tar); buildah runs
# with its own storage in a temp dir (vfs driver, removed at the end), so it shares nothing with
# other buildah users of the machine. ~10 s cold.
#
# Usage: build-test-images.sh     prints the output dir on the last line of stdout
# Env:   KGW_CACHE_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kgw)
set -euo pipefail

cache="${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kgw}"
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi
hash=$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-12)
out="$cache/test-images-$hash"

log() { printf '[build-test-images] %s\n' "$*" >&2; }

if [ -f "$out/pause.tar" ] && [ -f "$out/echo.tar" ]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi
command -v go >/dev/null || { log "go is required"; exit 1; }
command -v buildah >/dev/null || { log "buildah is required (bash test/cluster/setup-node.sh installs it)"; exit 1; }

work=$(mktemp -d /tmp/kgw-test-images.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/src/pause" "$work/src/echo" "$work/bin"

cat >"$work/src/go.mod" <<'GO'
module kgw.dev/test-images

go 1.22
GO
cat >"$work/src/pause/main.go" <<'GO'
// pause: the Pod sandbox's PID 1. Sleeps, reaps orphaned children, exits 0 on SIGINT/SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
cat >"$work/src/echo/main.go" <<'GO'
// echo: answers every HTTP request with "hello from <hostname> <method> <path>".
// `echo get <url>...` is a client instead: GETs each URL (https with the Pod's service account
// token and CA), retrying for up to 10 s, prints "<status> <body>" per URL, exits 1 if one fails.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

const sa = "/var/run/secrets/kubernetes.io/serviceaccount/"

func get(url string) error {
	client := &http.Client{Timeout: 3 * time.Second}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	if strings.HasPrefix(url, "https://") {
		ca, err := os.ReadFile(sa + "ca.crt")
		if err != nil {
			return err
		}
		token, err := os.ReadFile(sa + "token")
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s %d %s\n", url, resp.StatusCode, strings.Join(strings.Fields(string(body)), " "))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func main() {
	if len(os.Args) > 2 && os.Args[1] == "get" {
		code := 0
		for _, url := range os.Args[2:] {
			var err error
			for i := 0; i < 20; i++ {
				if err = get(url); err == nil {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if err != nil {
				fmt.Printf("%s error: %v\n", url, err)
				code = 1
			}
		}
		os.Exit(code)
	}
	host, _ := os.Hostname()
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s %s %s\n", host, r.Method, r.URL.Path)
	})
	fmt.Fprintf(os.Stderr, "echo listening on :%s\n", port)
	if err := http.ListenAndServe(":"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
GO

log "compiling pause and echo (static Go)"
for p in pause echo; do
  (cd "$work/src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$work/bin/$p" "./$p")
done

b=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
mkdir -p "$out.tmp"
image() { # image <name> <binary> <user>
  local name="$1" binary="$2" user="$3" ref c
  ref="localhost/kgw-test/$name:1"
  log "image $ref"
  c=$("${b[@]}" from scratch)
  "${b[@]}" copy "$c" "$work/bin/$binary" "/$binary" >/dev/null
  "${b[@]}" config --entrypoint "[\"/$binary\"]" --user "$user" \
    --label "org.opencontainers.image.title=kgw test image $name" "$c"
  "${b[@]}" commit -q --format docker "$c" "$ref" >/dev/null
  "${b[@]}" push -q "$ref" "docker-archive:$out.tmp/$name.tar:$ref"
  "${b[@]}" rm "$c" >/dev/null
}
image pause pause 65535:65535
image echo echo 65532:65532
"${b[@]}" rmi -a -f >/dev/null 2>&1 || true
rm -rf "$out"
mv "$out.tmp" "$out"
log "built $out ($(du -sh "$out" | cut -f1))"
echo "$out"
