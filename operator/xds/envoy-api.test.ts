// The committed Envoy descriptors (envoy-api.ts) are the set the generator (envoy-api/main.go)
// describes, for the Envoy version kgw pins: intact (size, sha256), from the go-control-plane
// module version go.mod names, every root package of main.go and every type kgw renders or will
// render present, and every file's imports inside the set. `npm run gen:protos -- --check` (run by
// .ci/run) regenerates the file and compares it byte for byte.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { pinnedVersions } from '../../test/env/paths.ts';
import { ENVOY_API, ENVOY_API_DESCRIPTORS_BASE64 } from './envoy-api.ts';
import { ANY_TYPES, POLICY_TYPES, TYPE_URLS, envoyRegistry, messageType, typeNameOfUrl } from './protos.ts';

const read = (file: string): string => readFileSync(new URL(file, import.meta.url), 'utf8');
const bytes = Buffer.from(ENVOY_API_DESCRIPTORS_BASE64, 'base64');
const set = fromBinary(FileDescriptorSetSchema, bytes);

test('the descriptor set is intact: size, sha256 and file count as recorded', () => {
  expect(bytes.length).toBe(ENVOY_API.bytes);
  expect(createHash('sha256').update(bytes).digest('hex')).toBe(ENVOY_API.sha256);
  expect(set.file.length).toBe(ENVOY_API.files);
});

test('it is Envoy API of the pinned Envoy, from the module version go.mod requires', () => {
  expect(ENVOY_API.envoy).toBe(`v${pinnedVersions().KGW_ENVOY_VERSION}`);
  const goMod = read('./envoy-api/go.mod');
  const required = /^\s*github\.com\/envoyproxy\/go-control-plane\/envoy (v\S+)$/m.exec(goMod)?.[1];
  expect(required).toBe(ENVOY_API.envoy);
  expect(ENVOY_API.modules['github.com/envoyproxy/go-control-plane/envoy']).toBe(ENVOY_API.envoy);
  for (const [module, version] of Object.entries(ENVOY_API.modules)) {
    if (module === 'github.com/envoyproxy/go-control-plane/envoy') continue;
    expect({ module, inGoMod: goMod.includes(`${module} ${version}`) }).toEqual({ module, inGoMod: true });
  }
});

test('every root package of the generator is in the set, and every import too', () => {
  const main = read('./envoy-api/main.go');
  const listed = /var rootPackages = \[\]string\{([^}]*)\}/.exec(main)?.[1] ?? '';
  const roots = [...listed.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  expect(roots).toEqual([...ENVOY_API.packages]);
  const files = new Set(set.file.map((f) => f.name));
  const packages = new Set(set.file.map((f) => f.package));
  for (const p of roots) expect({ p, present: packages.has(p ?? '') }).toEqual({ p, present: true });
  for (const f of set.file) {
    for (const dep of f.dependency)
      expect({ f: f.name, dep, present: files.has(dep) }).toEqual({ f: f.name, dep, present: true });
  }
  // dependencies first: a file comes after every file it imports
  const seen = new Set<string>();
  for (const f of set.file) {
    expect(f.dependency.filter((d) => !seen.has(d))).toEqual([]);
    seen.add(f.name);
  }
});

test('every type kgw renders or will render resolves, with the fields the old snapshot lacked', () => {
  const registry = envoyRegistry();
  for (const name of [...TYPE_URLS.map(typeNameOfUrl), ...ANY_TYPES, ...POLICY_TYPES]) {
    expect({ name, found: registry.getMessage(name) !== undefined }).toEqual({ name, found: true });
  }
  expect(
    registry.getService('envoy.service.discovery.v3.AggregatedDiscoveryService')?.methods.map((m) => m.name),
  ).toEqual(expect.arrayContaining(['StreamAggregatedResources', 'DeltaAggregatedResources']));
  const fields = (type: string): string[] => messageType(type).fields.map((f) => f.name);
  expect(fields('envoy.config.route.v3.RouteMatch')).toContain('cookies');
  expect(fields('envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit')).toEqual(
    expect.arrayContaining(['rate_limits', 'max_dynamic_descriptors', 'local_cluster_rate_limit']),
  );
  expect(fields('envoy.extensions.filters.http.api_key_auth.v3.ApiKeyAuthPerRoute')).toEqual(
    expect.arrayContaining(['credentials', 'key_sources', 'allowed_clients', 'forwarding']),
  );
});
