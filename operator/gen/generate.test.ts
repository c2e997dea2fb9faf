import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import {
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_INGRESS_CLASS,
  DEFAULT_NAMESPACE,
  DEFAULT_SERVICE_HTTPS_PORT,
  DEFAULT_SERVICE_HTTP_PORT,
  DEFAULT_DRAIN_SECONDS,
  DEFAULT_ENVOY_LOG_LEVEL,
  ENVOY_LOG_LEVELS,
  MESSAGES,
  validateGateway,
} from '../api/knativegateway.ts';
import type { CustomResourceDefinition } from './crd.ts';
import {
  GENERATED_MARKER,
  PATHS,
  checkGenerated,
  generateAll,
  repoRoot,
  writeGenerated,
  type GeneratedFile,
} from './generate.ts';
import { CorsSchema, IpAccessSchema, RateLimitSchema } from '../api/routepolicy.ts';
import { kubeSchema } from './kube-schema.ts';
import { fullSampleKnativeGateway, sampleKnativeGateway } from './sample.ts';
import { obj, str, structuralProblems, type Schema } from './schema.ts';

function file(files: GeneratedFile[], path: string): string {
  const f = files.find((x) => x.path === path);
  if (f === undefined) throw new Error(`not generated: ${path}`);
  return f.content;
}

const files = generateAll();
const crd = parse(file(files, PATHS.knativeGatewayCrd)) as CustomResourceDefinition;
const version = crd.spec.versions[0];
if (version === undefined) throw new Error('no version');
const root = version.schema.openAPIV3Schema;

function at(path: string): Schema {
  let s: Schema | undefined = root;
  for (const part of path.split('.')) {
    s = part === '[]' ? s?.items : s?.properties?.[part];
  }
  if (s === undefined) throw new Error(`no schema at ${path}`);
  return s;
}

/** A small validator for the OpenAPI subset kgw uses (no CEL): one message per problem. */
function conforms(s: Schema, v: unknown, p = ''): string[] {
  const errs: string[] = [];
  if (s['x-kubernetes-int-or-string'] === true) {
    if (typeof v === 'number') return Number.isInteger(v) ? [] : [`${p}: not an integer`];
    if (typeof v !== 'string') return [`${p}: not an int-or-string`];
    if (s.pattern !== undefined && !new RegExp(s.pattern).test(v)) errs.push(`${p}: pattern`);
    return errs;
  }
  switch (s.type) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${p}: not an object`];
      const o = v as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in o)) errs.push(`${p}.${r}: required`);
      if (s['x-kubernetes-preserve-unknown-fields'] === true) break;
      for (const [k, val] of Object.entries(o)) {
        const child =
          s.properties?.[k] ??
          (typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined);
        if (child === undefined) {
          if (s.properties !== undefined) errs.push(`${p}.${k}: unknown field`);
        } else errs.push(...conforms(child, val, `${p}.${k}`));
      }
      break;
    }
    case 'array':
      if (!Array.isArray(v)) return [`${p}: not an array`];
      if (s.minItems !== undefined && v.length < s.minItems) errs.push(`${p}: too few items`);
      if (s.maxItems !== undefined && v.length > s.maxItems) errs.push(`${p}: too many items`);
      v.forEach((x, i) => s.items && errs.push(...conforms(s.items, x, `${p}[${i}]`)));
      break;
    case 'string':
      if (typeof v !== 'string') return [`${p}: not a string`];
      if (s.pattern !== undefined && !new RegExp(s.pattern).test(v)) errs.push(`${p}: pattern`);
      if (s.maxLength !== undefined && v.length > s.maxLength) errs.push(`${p}: too long`);
      if (s.minLength !== undefined && v.length < s.minLength) errs.push(`${p}: too short`);
      if (s.enum !== undefined && !s.enum.includes(v)) errs.push(`${p}: not in enum`);
      break;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) return [`${p}: not an integer`];
      if (s.minimum !== undefined && v < s.minimum) errs.push(`${p}: below minimum`);
      if (s.maximum !== undefined && v > s.maximum) errs.push(`${p}: above maximum`);
      break;
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) return [`${p}: not a number`];
      if (s.minimum !== undefined && v < s.minimum) errs.push(`${p}: below minimum`);
      if (s.maximum !== undefined && v > s.maximum) errs.push(`${p}: above maximum`);
      break;
    case 'boolean':
      if (typeof v !== 'boolean') errs.push(`${p}: not a boolean`);
      break;
    default:
      errs.push(`${p}: schema without type`);
  }
  return errs;
}

describe('KnativeGateway CRD', () => {
  test('names, scope, version, status subresource and printer columns', () => {
    expect(crd.apiVersion).toBe('apiextensions.k8s.io/v1');
    expect(crd.metadata.name).toBe('knativegateways.operator.kgw.dev');
    expect(crd.spec.group).toBe('operator.kgw.dev');
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toEqual({
      kind: 'KnativeGateway',
      listKind: 'KnativeGatewayList',
      plural: 'knativegateways',
      singular: 'knativegateway',
      shortNames: ['kgw'],
      categories: ['kgw-all'],
    });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([['v1alpha1', true, true]]);
    expect(version.subresources).toEqual({ status: {} });
    const cols = (version.additionalPrinterColumns ?? []).map((c) => [c.name, c.jsonPath, c.priority ?? 0]);
    expect(cols).toEqual([
      ['Ready', '.status.conditions[?(@.type=="Ready")].status', 0],
      ['Fleets', '.status.readyFleets', 0],
      ['Address', '.status.externalAddress', 0],
      ['Req/s', '.status.requestsPerSecond', 0],
      ['5xx', '.status.errorRatio', 0],
      ['Age', '.metadata.creationTimestamp', 0],
      ['Class', '.spec.ingressClass', 1],
    ]);
  });

  test('is a structural schema with a description on every field', () => {
    expect(structuralProblems(root)).toEqual([]);
    // Independently of structuralProblems: walk the YAML as parsed back.
    const missing: string[] = [];
    const walk = (s: Schema, p: string, isField: boolean): void => {
      if (s.type === undefined && s['x-kubernetes-int-or-string'] !== true) missing.push(`${p}: type`);
      if (isField && p !== '.metadata' && !s.description) missing.push(`${p}: description`);
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${p}.${k}`, true);
      if (s.items) walk(s.items, `${p}[]`, false);
    };
    walk(root, '', true);
    expect(missing).toEqual([]);
  });

  test('the structural check finds what it is meant to find', () => {
    const bad: Schema = {
      type: 'object',
      description: 'x',
      properties: {
        a: { type: 'string' },
        b: { description: 'no type' },
        c: { type: 'object', description: 'no properties' },
        d: {
          type: 'array',
          description: 'x',
          items: obj('item', { k: str('k') }),
          'x-kubernetes-list-map-keys': ['k'],
        },
      },
      required: ['e'],
    };
    expect(structuralProblems(bad, 'r')).toEqual([
      'r: required field e is not a property',
      'r.a: no description',
      'r.b: no type',
      'r.c: object without properties',
      'r.d: list map key k must be required or defaulted',
    ]);
  });

  test('defaults come from the API constants and every default is described', () => {
    expect(at('spec.ingressClass').default).toBe(DEFAULT_INGRESS_CLASS);
    expect(at('spec.namespace').default).toBe(DEFAULT_NAMESPACE);
    expect(at('spec.clusterDomain').default).toBe(DEFAULT_CLUSTER_DOMAIN);
    expect(at('spec.fleets.[].service').default).toEqual({});
    expect(at('spec.fleets.[].service.httpPort').default).toBe(DEFAULT_SERVICE_HTTP_PORT);
    expect(at('spec.fleets.[].service.httpsPort').default).toBe(DEFAULT_SERVICE_HTTPS_PORT);
    expect(at('spec.fleets.[].accessLog').default).toEqual({});
    expect(at('spec.fleets.[].accessLog.enabled').default).toBe(false);
    expect(at('spec.fleets.[].accessLog.format').default).toBe('text');
    expect(at('spec.fleets.[].metrics').default).toEqual({});
    expect(at('spec.fleets.[].metrics.enabled').default).toBe(false);
    expect(at('spec.fleets.[].metrics.port').default).toBe(9091);
    expect(at('spec.fleets.[].envoy').default).toEqual({});
    expect(at('spec.fleets.[].envoy.logLevel').default).toBe(DEFAULT_ENVOY_LOG_LEVEL);
    expect(at('spec.fleets.[].envoy.drainSeconds').default).toBe(DEFAULT_DRAIN_SECONDS);
    expect(at('spec.fleets.[].autoscaling.minReplicas').default).toBe(1);
    expect(at('spec.fleets.[].autoscaling.targetCPUUtilizationPercentage').default).toBe(80);
    expect(at('spec.knative').default).toEqual({});
    expect(at('spec.knative.namespace').default).toBe('knative-serving');
    expect(at('spec.knative.configure').default).toBe(true);
    // Left to kgw: replicas (exclusive with autoscaling), visibility-dependent defaults (ports,
    // Service type), and the image (so upgrading kgw upgrades Envoy unless pinned).
    for (const p of [
      'spec.fleets.[].replicas',
      'spec.fleets.[].ports.http',
      'spec.fleets.[].service.type',
      'spec.fleets.[].envoy.image',
      'spec.fleets.[].envoy.concurrency',
      'spec.fleets.[].resources',
      'spec.domains',
    ]) {
      expect([p, at(p).default]).toEqual([p, undefined]);
    }
    const walk = (s: Schema, p: string): void => {
      if (s.default !== undefined && !(typeof s.default === 'object' && s.default !== null)) {
        expect(`${p}: ${s.description ?? ''}`).toContain(`Defaults to ${String(s.default)}`);
      }
      for (const [k, v] of Object.entries(s.properties ?? {})) walk(v, `${p}.${k}`);
      if (s.items) walk(s.items, `${p}[]`);
    };
    walk(root, '');
  });

  test('limits, enums and list semantics', () => {
    const fleets = at('spec.fleets');
    expect([fleets.minItems, fleets.maxItems]).toEqual([1, 16]);
    expect(fleets['x-kubernetes-list-type']).toBe('map');
    expect(fleets['x-kubernetes-list-map-keys']).toEqual(['name']);
    expect(at('spec.fleets.[].name').maxLength).toBe(40);
    expect(at('spec.fleets.[].visibility').enum).toEqual(['ExternalIP', 'ClusterLocal']);
    expect([at('spec.fleets.[].replicas').minimum, at('spec.fleets.[].replicas').maximum]).toEqual([1, 100]);
    expect(at('spec.fleets.[].service.type').enum).toEqual(['ClusterIP', 'NodePort', 'LoadBalancer']);
    expect(at('spec.fleets.[].envoy.logLevel').enum).toEqual(ENVOY_LOG_LEVELS);
    expect(at('spec.fleets.[].accessLog.format').enum).toEqual(['text', 'json']);
    expect(at('spec.knative.httpProtocol').enum).toEqual(['Enabled', 'Redirected']);
    expect(at('spec.fleets.[].placement.tolerations').maxItems).toBe(32);
    expect(at('spec.fleets.[].placement.affinity')['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(at('spec.fleets.[].podDisruptionBudget.minAvailable')['x-kubernetes-int-or-string']).toBe(true);
    expect(at('spec.domains.selectors')['x-kubernetes-list-map-keys']).toEqual(['domain']);
    expect(at('spec.fleets.[].autoscaling').required).toEqual(['maxReplicas']);
    expect([at('spec.fleets.[].ports.http').minimum, at('spec.fleets.[].ports.http').maximum]).toEqual([
      1024, 65535,
    ]);
    expect(at('metadata.name').maxLength).toBe(63);
    expect(root.required).toEqual(['spec']);
    expect(at('spec').required).toEqual(['fleets']);
    expect(at('spec.fleets.[]').required).toEqual(['name', 'visibility']);
  });

  test('CEL rules: every message comes from MESSAGES, and each rule sits where documented', () => {
    const all: string[] = [];
    const walk = (s: Schema): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) all.push(r.message);
      for (const v of Object.values(s.properties ?? {})) walk(v);
      if (s.items) walk(s.items);
    };
    walk(root);
    // spec.policy reuses RoutePolicy's feature schemas: their rules' messages are defined there
    const routePolicy: string[] = [];
    const walkRp = (s: Schema): void => {
      for (const r of s['x-kubernetes-validations'] ?? []) routePolicy.push(r.message);
      for (const v of Object.values(s.properties ?? {})) walkRp(v);
      if (s.items) walkRp(s.items);
    };
    for (const feature of [IpAccessSchema, CorsSchema, RateLimitSchema]) walkRp(kubeSchema(feature));
    const known = new Set<string>([...Object.values(MESSAGES), ...routePolicy]);
    expect(all.filter((m) => !known.has(m))).toEqual([]);
    expect(new Set(all).size).toBeGreaterThanOrEqual(18);
    expect(
      (at('spec.fleets.[].autoscaling')['x-kubernetes-validations'] ?? []).map((r) => r.message),
    ).toEqual([MESSAGES.autoscalingMinAboveMax]);
    expect(
      (at('spec.fleets.[].podDisruptionBudget')['x-kubernetes-validations'] ?? []).map((r) => r.message),
    ).toEqual([MESSAGES.pdbExactlyOne]);
    expect((at('spec.domains')['x-kubernetes-validations'] ?? []).map((r) => r.message)).toEqual([
      MESSAGES.selectorsNeedDefault,
      MESSAGES.uniqueDomains,
    ]);
    expect((at('spec')['x-kubernetes-validations'] ?? []).map((r) => r.message)).toEqual([
      MESSAGES.twoClaimCreators,
      MESSAGES.tlsDefaultCertificateNames,
      MESSAGES.tlsDefaultCertificateFleets,
      MESSAGES.domainsNeedConfigure,
    ]);
  });

  test('CEL rules: unique fleet names, distinct listener ports, distinct Service ports', () => {
    expect(at('spec.fleets')['x-kubernetes-validations']).toEqual([
      { rule: 'self.all(f, self.exists_one(g, g.name == f.name))', message: MESSAGES.uniqueFleetNames },
    ]);
    const fleetRules = at('spec.fleets.[]')['x-kubernetes-validations'] ?? [];
    expect(fleetRules.map((r) => r.message)).toEqual([
      MESSAGES.listenerPortsDiffer,
      MESSAGES.reservedListenerPorts,
      MESSAGES.metricsPortDiffers,
      MESSAGES.replicasOrAutoscaling,
      MESSAGES.autoscalingNeedsCpuRequest,
      MESSAGES.externalTrafficPolicyNeedsExternal,
      MESSAGES.loadBalancerClassNeedsLoadBalancer,
    ]);
    expect(fleetRules[0]?.fieldPath).toBe('.ports');
    expect(fleetRules[1]?.rule).toContain('[19003]');
    expect(fleetRules[2]?.fieldPath).toBe('.metrics');
    expect(fleetRules[2]?.rule).toContain('9091');
    for (const n of ['8080', '8443', '8081', '8444', "'ClusterLocal'"])
      expect(fleetRules[0]?.rule).toContain(n);
    expect((at('spec.fleets.[].service')['x-kubernetes-validations'] ?? []).map((r) => r.message)).toEqual([
      MESSAGES.servicePortsDiffer,
    ]);
  });
});

describe('sample', () => {
  test('the full sample is the generated file, conforms to the schema and passes validateGateway', () => {
    const fromFile = parse(file(files, PATHS.knativeGatewayFullSample)) as unknown;
    const sample = fullSampleKnativeGateway();
    expect(fromFile).toEqual(sample);
    expect(conforms(root, fromFile)).toEqual([]);
    expect(validateGateway(sample)).toEqual([]);
  });

  test('is the generated file, conforms to the schema and passes validateGateway', () => {
    const fromFile = parse(file(files, PATHS.knativeGatewaySample)) as unknown;
    const sample = sampleKnativeGateway();
    expect(fromFile).toEqual(sample);
    expect(sample.metadata.name).toBe('default');
    expect(sample.spec.fleets.map((f) => [f.name, f.visibility])).toEqual([
      ['external', 'ExternalIP'],
      ['local', 'ClusterLocal'],
    ]);
    expect(conforms(root, fromFile)).toEqual([]);
    expect(validateGateway(sample)).toEqual([]);
  });

  test('the schema check used above rejects bad objects', () => {
    const bad = {
      ...sampleKnativeGateway(),
      spec: { fleets: [{ name: 'X', visibility: 'Public', replicas: 0 }] },
    };
    expect(conforms(root, bad)).toEqual([
      '.spec.fleets[0].name: pattern',
      '.spec.fleets[0].visibility: not in enum',
      '.spec.fleets[0].replicas: below minimum',
    ]);
  });
});

describe('docs/configuration.md', () => {
  test('lists every spec and status field and embeds the sample', () => {
    const doc = file(files, PATHS.configurationDoc);
    const paths: string[] = [];
    const walk = (s: Schema, p: string): void => {
      paths.push(p);
      const o = s.type === 'array' ? s.items : s;
      const prefix = s.type === 'array' ? `${p}[]` : p;
      for (const [k, v] of Object.entries(o?.properties ?? {})) walk(v, `${prefix}.${k}`);
    };
    walk(at('spec'), 'spec');
    walk(at('status'), 'status');
    expect(paths.length).toBeGreaterThan(20);
    for (const p of paths) expect(doc).toContain(`| \`${p}\` |`);
    expect(doc).toContain(file(files, PATHS.knativeGatewaySample).split('\n').slice(3).join('\n').trim());
    expect(doc).toContain(MESSAGES.uniqueFleetNames);
    expect(doc).toContain(file(files, PATHS.knativeGatewayFullSample).split('\n').slice(3).join('\n').trim());
    for (const k of [
      'ingress-class',
      'http-protocol',
      'external-domain-tls',
      'autocreate-cluster-domain-claims',
    ]) {
      expect(doc).toContain(`\`${k}\``);
    }
    expect(doc).toContain('`map[string]int-or-string`');
    expect(doc).toContain('KnativeConfigured');
  });
});

describe('write and check', () => {
  let dir = '';
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kgw-gen-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('every generated file carries the marker', () => {
    for (const f of files) expect(f.content.slice(0, 200)).toContain(GENERATED_MARKER);
  });

  test('the repository is up to date (npm run gen:check)', () => {
    expect(checkGenerated(repoRoot(), files)).toEqual({ changed: [], missing: [], stale: [] });
  });

  test('check finds changed, missing and stale files; write repairs them', () => {
    expect(checkGenerated(dir, files)).toEqual({
      changed: [],
      missing: files.map((f) => f.path),
      stale: [],
    });
    expect(writeGenerated(dir, files)).toEqual(files.map((f) => f.path));
    expect(checkGenerated(dir, files)).toEqual({ changed: [], missing: [], stale: [] });

    const crdPath = join(dir, PATHS.knativeGatewayCrd);
    writeFileSync(crdPath, readFileSync(crdPath, 'utf8').replace('maxItems: 16', 'maxItems: 17'));
    rmSync(join(dir, PATHS.knativeGatewaySample));
    writeFileSync(join(dir, 'crds', 'old.yaml'), `# ${GENERATED_MARKER}\nkind: Old\n`);
    writeFileSync(join(dir, 'crds', 'hand-written.yaml'), 'kind: Mine\n');
    expect(checkGenerated(dir, files)).toEqual({
      changed: [PATHS.knativeGatewayCrd],
      missing: [PATHS.knativeGatewaySample],
      stale: ['crds/old.yaml'],
    });

    expect(writeGenerated(dir, files)).toEqual(
      [PATHS.knativeGatewayCrd, PATHS.knativeGatewaySample, 'crds/old.yaml'].sort(),
    );
    expect(checkGenerated(dir, files)).toEqual({ changed: [], missing: [], stale: [] });
    expect(existsSync(join(dir, 'crds', 'old.yaml'))).toBe(false);
    expect(existsSync(join(dir, 'crds', 'hand-written.yaml'))).toBe(true);
  });

  test('the CLI (node type stripping) writes, passes --check, and fails --check after tampering', () => {
    const main = join(repoRoot(), 'operator', 'gen', 'main.ts');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, ['--experimental-strip-types', '--no-warnings', main, ...args], {
        encoding: 'utf8',
      });
    const write = run('--out', dir);
    expect(write.stderr).toBe('');
    expect(write.status).toBe(0);
    expect(run('--check', '--out', dir).status).toBe(0);

    const docPath = join(dir, PATHS.configurationDoc);
    writeFileSync(docPath, `${readFileSync(docPath, 'utf8')}\nedited by hand\n`);
    const check = run('--check', `--out=${dir}`);
    expect(check.status).toBe(1);
    expect(check.stderr).toContain(`changed  ${PATHS.configurationDoc}`);
    expect(check.stderr).toContain('npm run gen');
  });
});
