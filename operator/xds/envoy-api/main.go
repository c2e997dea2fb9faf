// Command envoy-api writes Envoy's API, as the Envoy release kgw pins describes it, as one
// FileDescriptorSet for kgw's xDS encoder (operator/xds/envoy-api.ts). The descriptors come from
// the generated Go code of github.com/envoyproxy/go-control-plane/envoy at the version that
// matches the Envoy binary (go.mod), which embeds each .proto file's descriptor: importing a Go
// package registers its files in protoregistry.GlobalFiles. The set holds every file of the
// proto packages in rootPackages plus everything they import (google/protobuf, validate, udpa
// and xds annotations, …), dependencies first, so no .proto file is parsed at run time.
//
// Run by `npm run gen:protos` (writes the TypeScript module) and its check (compares it).
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// The xDS resources and the ADS service.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	// OpenTelemetry tracing of the fleets (render/tracing.ts).
	_ "github.com/envoyproxy/go-control-plane/envoy/config/trace/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"

	// Extensions kgw renders into a google.protobuf.Any today (operator/xds/protos.ts ANY_TYPES).
	_ "github.com/cncf/xds/go/xds/type/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/file/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ext_authz/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/health_check/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/proxy_protocol/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/http/original_ip_detection/xff/v3"
	// Scoped route tables (render/scoped.ts): the route key header and the host-case fallback.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/lua/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/http/early_header_mutation/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/network/dns_resolver/cares/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/request_id/uuid/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/raw_buffer/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"

	// The policy filters (shared/reference/policy-features.md §3, §6.4) and what they use.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/api_key_auth/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/basic_auth/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_mutation/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/header_to_metadata/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/jwt_authn/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/local_ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/ratelimit/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/type/matcher/v3"
	// the rate-limit service's configuration, served to envoyproxy/ratelimit (rate limits Global)
	_ "github.com/envoyproxy/go-control-plane/ratelimit/config/ratelimit/v3"
)

// rootPackages: the proto packages of the imports above; every file of each is in the set.
var rootPackages = []string{
	"envoy.config.cluster.v3",
	"envoy.config.endpoint.v3",
	"envoy.config.listener.v3",
	"envoy.config.rbac.v3",
	"envoy.config.route.v3",
	"envoy.config.trace.v3",
	"envoy.extensions.access_loggers.file.v3",
	"envoy.extensions.access_loggers.stream.v3",
	"envoy.extensions.filters.http.api_key_auth.v3",
	"envoy.extensions.filters.http.basic_auth.v3",
	"envoy.extensions.filters.http.cors.v3",
	"envoy.extensions.filters.http.ext_authz.v3",
	"envoy.extensions.filters.http.header_mutation.v3",
	"envoy.extensions.filters.http.header_to_metadata.v3",
	"envoy.extensions.filters.http.health_check.v3",
	"envoy.extensions.filters.http.jwt_authn.v3",
	"envoy.extensions.filters.http.local_ratelimit.v3",
	"envoy.extensions.filters.http.lua.v3",
	"envoy.extensions.filters.http.ratelimit.v3",
	"envoy.extensions.filters.http.rbac.v3",
	"envoy.extensions.filters.http.router.v3",
	"envoy.extensions.filters.listener.http_inspector.v3",
	"envoy.extensions.filters.listener.proxy_protocol.v3",
	"envoy.extensions.filters.listener.tls_inspector.v3",
	"envoy.extensions.filters.network.http_connection_manager.v3",
	"envoy.extensions.http.early_header_mutation.header_mutation.v3",
	"envoy.extensions.http.original_ip_detection.xff.v3",
	"envoy.extensions.network.dns_resolver.cares.v3",
	"envoy.extensions.request_id.uuid.v3",
	"envoy.extensions.transport_sockets.raw_buffer.v3",
	"envoy.extensions.transport_sockets.tls.v3",
	"envoy.extensions.upstreams.http.v3",
	"envoy.service.discovery.v3",
	"envoy.type.matcher.v3",
	"ratelimit.config.ratelimit.v3",
	"xds.type.v3",
}

// Modules whose versions the output records (the descriptors come from these).
var recordedModules = []string{
	"github.com/envoyproxy/go-control-plane/envoy",
	"github.com/envoyproxy/go-control-plane/ratelimit",
	"github.com/cncf/xds/go",
	"github.com/envoyproxy/protoc-gen-validate",
	"cel.dev/expr",
	"google.golang.org/genproto/googleapis/api",
	"google.golang.org/genproto/googleapis/rpc",
	"google.golang.org/protobuf",
}

const envoyModule = "github.com/envoyproxy/go-control-plane/envoy"

func main() {
	out := flag.String("out", "", "the TypeScript module to write (default: standard output)")
	flag.Parse()
	set, err := descriptorSet()
	if err != nil {
		fail(err)
	}
	bytes, err := proto.MarshalOptions{Deterministic: true}.Marshal(set)
	if err != nil {
		fail(err)
	}
	versions, err := moduleVersions()
	if err != nil {
		fail(err)
	}
	text := typescript(bytes, versions, len(set.File))
	if *out == "" {
		_, err = os.Stdout.WriteString(text)
	} else {
		err = os.WriteFile(*out, []byte(text), 0o644)
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "envoy-api:", err)
	os.Exit(1)
}

// descriptorSet: the files of rootPackages and their imports, each after the files it imports.
func descriptorSet() (*descriptorpb.FileDescriptorSet, error) {
	var roots []protoreflect.FileDescriptor
	for _, pkg := range rootPackages {
		n := 0
		protoregistry.GlobalFiles.RangeFilesByPackage(protoreflect.FullName(pkg), func(f protoreflect.FileDescriptor) bool {
			roots = append(roots, f)
			n++
			return true
		})
		if n == 0 {
			return nil, fmt.Errorf("no file of proto package %s is linked in (missing Go import?)", pkg)
		}
	}
	sort.Slice(roots, func(i, j int) bool { return roots[i].Path() < roots[j].Path() })
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var visit func(f protoreflect.FileDescriptor)
	visit = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		imports := f.Imports()
		for i := 0; i < imports.Len(); i++ {
			visit(imports.Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	for _, f := range roots {
		visit(f)
	}
	return set, nil
}

// moduleVersions: the versions of recordedModules this program was built with.
func moduleVersions() (map[string]string, error) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil, fmt.Errorf("no build information (run with go run in module mode)")
	}
	versions := map[string]string{}
	for _, dep := range info.Deps {
		if dep.Replace != nil {
			return nil, fmt.Errorf("module %s is replaced: the descriptors would not be the released ones", dep.Path)
		}
		versions[dep.Path] = dep.Version
	}
	for _, m := range recordedModules {
		if versions[m] == "" {
			return nil, fmt.Errorf("module %s is not a dependency", m)
		}
	}
	return versions, nil
}

func typescript(set []byte, versions map[string]string, files int) string {
	sum := sha256.Sum256(set)
	var b strings.Builder
	b.WriteString("// Generated by `npm run gen:protos` from operator/xds/envoy-api/ (main.go): do not edit.\n")
	b.WriteString("// Envoy's API at the Envoy version kgw pins, as one FileDescriptorSet (protobuf binary, base64):\n")
	b.WriteString("// every file of `packages` and the files they import, exported from the Go modules in `modules`.\n")
	b.WriteString("export const ENVOY_API = {\n")
	fmt.Fprintf(&b, "  envoy: '%s',\n", versions[envoyModule])
	b.WriteString("  modules: {\n")
	for _, m := range recordedModules {
		fmt.Fprintf(&b, "    '%s': '%s',\n", m, versions[m])
	}
	b.WriteString("  },\n")
	b.WriteString("  packages: [\n")
	for _, p := range rootPackages {
		fmt.Fprintf(&b, "    '%s',\n", p)
	}
	b.WriteString("  ],\n")
	fmt.Fprintf(&b, "  files: %d,\n", files)
	fmt.Fprintf(&b, "  bytes: %d,\n", len(set))
	fmt.Fprintf(&b, "  sha256: '%s',\n", hex.EncodeToString(sum[:]))
	b.WriteString("} as const;\n\n")
	b.WriteString("export const ENVOY_API_DESCRIPTORS_BASE64 =\n")
	fmt.Fprintf(&b, "  '%s';\n", base64.StdEncoding.EncodeToString(set))
	return b.String()
}
