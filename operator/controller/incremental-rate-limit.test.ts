// Global fleets (rate limits counted by a rate-limit service): the service's EDS cluster is among
// the fleet's clusters from the start, its endpoints follow its EndpointSlices, and each flush that
// changes the policies on the fleet's hosts returns the service's complete configuration (the
// first flush an empty one); PerReplica fleets get none of it.
import { join } from 'node:path';
import { RATE_LIMIT_CLUSTER } from '../render/global-rate-limit.ts';
import { caseFleets, caseLookups, goldenDir, loadCase } from '../../test/support/golden-cases.ts';
import { translateIngress } from '../translate/ingress.ts';
import type { IngressIR } from '../translate/ir.ts';
import { IncrementalGateway } from './incremental.ts';

const objs = loadCase(join(goldenDir, 'rate-limit-global.yaml'));
const lookups = caseLookups(objs);
const { external, local } = caseFleets(objs);
const fleets = [
  { key: 'global', opts: external! },
  { key: 'per-replica', opts: local! },
];

function irs(): IngressIR[] {
  return objs.ingresses.flatMap((ing) => {
    const r = translateIngress(ing, lookups);
    return r.ok ? [r.ir] : [];
  });
}

test("a Global fleet serves the rate-limit service's cluster and endpoints and returns its configuration when policies change", () => {
  expect(external?.rateLimitSharing).toBe('Global');
  const gw = new IncrementalGateway(fleets, lookups);
  let out = gw.flush();
  expect(out.fleets.get('global')?.clusters?.has(RATE_LIMIT_CLUSTER)).toBe(true);
  expect(JSON.stringify(out.fleets.get('global')?.endpoints?.get(RATE_LIMIT_CLUSTER))).toContain(
    '"address":"10.0.0.7","port_value":18081',
  );
  expect(out.fleets.get('per-replica')?.clusters?.has(RATE_LIMIT_CLUSTER)).toBe(false);
  // before any KIngress: an empty configuration (the service then answers OK to everything)
  expect([...out.rateLimitConfigs]).toEqual([['global', new Map()]]);

  for (const ir of irs()) gw.set(ir, '2026-01-01T00:00:00Z');
  out = gw.flush();
  expect([...out.rateLimitConfigs.keys()]).toEqual(['global']);
  expect([...out.rateLimitConfigs.get('global')!.keys()]).toEqual(['kgw/team-a/limits']);

  // nothing changed: nothing to send
  expect(gw.flush().rateLimitConfigs.size).toBe(0);
  // only endpoints changed: the configuration is not recomputed
  gw.refreshEndpoints(['kgw-system/ratelimit']);
  expect(gw.flush().rateLimitConfigs.size).toBe(0);

  // a policy's limit changes: the routes stay the same (they name the rules), the configuration not
  const changed = irs().map((ir) => ({
    ...ir,
    external: {
      ...ir.external,
      vhosts: ir.external.vhosts.map((vh) => {
        const rl = vh.policy?.rateLimit;
        if (!rl) return vh;
        const [first, ...rest] = rl.rules;
        return {
          ...vh,
          policy: {
            ...vh.policy,
            rateLimit: { ...rl, rules: [{ ...first!, each: { requests: 30, seconds: 60 } }, ...rest] },
          },
        };
      }),
    },
  }));
  for (const ir of changed) gw.set(ir, '2026-01-01T00:00:00Z');
  out = gw.flush();
  expect(out.fleets.get('global')?.routes).toBeUndefined();
  expect(JSON.stringify(out.rateLimitConfigs.get('global')?.get('kgw/team-a/limits'))).toContain(
    '"requests_per_unit":30',
  );

  for (const ir of irs()) gw.delete(ir.key);
  out = gw.flush();
  expect([...out.rateLimitConfigs]).toEqual([['global', new Map()]]);
});
