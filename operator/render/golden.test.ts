// Golden-file tests for translate + render: every test/golden/cases/<case>.yaml (Kubernetes
// objects) is translated and rendered for an external and a cluster-local fleet, and compared
// with <case>.golden.yaml. Regenerate with `npm run golden:update` (KGW_UPDATE_GOLDEN=1), which
// also removes golden files whose case is gone.
import { existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import type { EndpointSlice, Secret, Service } from '../api/core.ts';
import { hasClass, KGW_INGRESS_CLASS, ingressKey, type KIngress } from '../api/kingress.ts';
import { resolveConflicts, type Candidate } from '../translate/conflicts.ts';
import { translateIngress } from '../translate/ingress.ts';
import { lookupsFromObjects } from '../translate/lookups.ts';
import { renderFleet, type FleetRenderOptions } from './fleet.ts';

const dir = join(import.meta.dirname, '../../test/golden/cases');
const update = process.env.KGW_UPDATE_GOLDEN === '1';

export const goldenFleets: Record<string, FleetRenderOptions> = {
  external: { visibility: 'ExternalIP', httpPort: 8080, httpsPort: 8443, accessLog: false },
  local: { visibility: 'ClusterLocal', httpPort: 8081, httpsPort: 8444, accessLog: false },
};

interface Objects {
  ingresses: KIngress[];
  services: Service[];
  slices: EndpointSlice[];
  secrets: Secret[];
}

export function loadCase(file: string): Objects {
  const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { kind?: string });
  const of = <T>(kind: string) => docs.filter((d) => d.kind === kind) as T[];
  return {
    ingresses: of<KIngress>('Ingress'),
    services: of<Service>('Service'),
    slices: of<EndpointSlice>('EndpointSlice'),
    secrets: of<Secret>('Secret'),
  };
}

export function renderCase(objs: Objects): Record<string, unknown> {
  const lookups = lookupsFromObjects(objs);
  const ingresses: Record<string, unknown> = {};
  const candidates: Candidate[] = [];
  for (const ing of objs.ingresses) {
    const key = ingressKey(ing);
    if (!hasClass(ing, KGW_INGRESS_CLASS)) {
      ingresses[key] = { result: 'IgnoredOtherClass' };
      continue;
    }
    const res = translateIngress(ing, lookups);
    if (!res.ok) {
      ingresses[key] = { result: res.problem.reason, message: res.problem.message };
      continue;
    }
    ingresses[key] = { result: 'Accepted', hash: res.ir.hash, probes: res.ir.probes };
    candidates.push({ ir: res.ir, created: ing.metadata.creationTimestamp ?? '' });
  }
  const { accepted, conflicts } = resolveConflicts(candidates);
  for (const [key, c] of conflicts) {
    ingresses[key] = { result: 'DomainConflict', host: c.host, owner: c.owner };
  }
  const fleets: Record<string, unknown> = {};
  for (const [name, opts] of Object.entries(goldenFleets)) {
    const r = renderFleet(opts, accepted, lookups);
    fleets[name] = {
      listeners: [...r.listeners.values()],
      routes: [...r.routes.values()],
      clusters: [...r.clusters.values()],
      endpoints: [...r.endpoints.values()],
      secrets: [...r.secrets.keys()],
    };
  }
  return { ingresses: Object.fromEntries(Object.entries(ingresses).sort()), fleets };
}

const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && !f.endsWith('.golden.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''))
  .sort();

describe('golden translate+render', () => {
  test('every case has a golden file and no golden file is stale', () => {
    const goldens = readdirSync(dir).filter((f) => f.endsWith('.golden.yaml'));
    const stale = goldens.filter((g) => !cases.includes(g.replace(/\.golden\.yaml$/, '')));
    if (update) for (const s of stale) unlinkSync(join(dir, s));
    else expect(stale).toEqual([]);
    expect(cases.length).toBeGreaterThan(0);
  });

  test.each(cases)('golden %s', (name) => {
    const actual = stringify(renderCase(loadCase(join(dir, `${name}.yaml`))), {
      lineWidth: 0,
      aliasDuplicateObjects: false,
    });
    const goldenFile = join(dir, `${name}.golden.yaml`);
    if (update) writeFileSync(goldenFile, actual);
    expect(existsSync(goldenFile)).toBe(true);
    expect(actual).toBe(readFileSync(goldenFile, 'utf8'));
  });
});
