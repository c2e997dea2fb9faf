// Turns a fleet's dynamic resources into one static Envoy bootstrap: routes inlined into their
// HTTP connection managers, EDS clusters given their load assignments, SDS references pointed at
// static secrets. Used to check rendered configuration offline with `envoy --mode validate`, and
// handy for debugging (the result runs as-is without a control plane).
import type { FleetResources } from '../../operator/render/fleet.ts';
import { T, type Json } from '../../operator/render/types.ts';

function clone<V>(v: V): V {
  return structuredClone(v);
}

function walk(node: unknown, visit: (o: Json) => void): void {
  if (Array.isArray(node)) for (const n of node) walk(n, visit);
  else if (node && typeof node === 'object') {
    visit(node as Json);
    for (const v of Object.values(node)) walk(v, visit);
  }
}

export function staticBootstrap(res: FleetResources): Json {
  const listeners = [...res.listeners.values()].map((l) => {
    const copy = clone(l);
    walk(copy, (o) => {
      if (o['@type'] === T.hcm && o.rds) {
        const name = (o.rds as { route_config_name: string }).route_config_name;
        const rc = res.routes.get(name);
        if (!rc) throw new Error(`listener ${String(l.name)} references missing route config ${name}`);
        delete o.rds;
        o.route_config = clone(rc);
      }
      if (Array.isArray(o.tls_certificate_sds_secret_configs)) {
        for (const s of o.tls_certificate_sds_secret_configs as Json[]) delete s.sds_config;
      }
    });
    return copy;
  });
  const clusters = [...res.clusters.values()].map((c) => {
    if (c.type !== 'EDS') return clone(c);
    const copy = clone(c);
    delete copy.eds_cluster_config;
    copy.type = 'STATIC';
    copy.load_assignment = clone(
      res.endpoints.get(String(c.name)) ?? { cluster_name: c.name, endpoints: [] },
    );
    return copy;
  });
  return { static_resources: { listeners, clusters, secrets: [...res.secrets.values()].map(clone) } };
}
