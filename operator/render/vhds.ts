// A fleet's route tables as VHDS (virtual host discovery) resources: each route configuration is
// sent without its virtual hosts, naming `vhds`, and every virtual host is its own resource, so a
// change to one KIngress sends only that KIngress's vhosts (a few KB) instead of the whole table
// (0.5 MB at 1k KIngresses, 5.7 MB at 10k). Delta xDS only (Envoy asks for VHDS over delta).
//
// Envoy files a VHDS vhost under the route configuration named by the part of its name before the
// last `/`, and removes it by that name, so a vhost's name is `<route configuration>/<vhost>` with
// the `/` of kgw's vhost name (`<ns>/<name>/<host>`) written `~`. The vhost name is also what its
// statistics are labelled with (stats-names.ts): `http/<ns>~<name>~<host>` and `https/…`.
import { ADS_SOURCE, type Json } from './types.ts';

/** The VHDS name of vhost `vhost` (its kgw name) in route configuration `routeConfig`. */
export function vhdsName(routeConfig: string, vhost: string): string {
  return `${routeConfig}/${vhost.replaceAll('/', '~')}`;
}

/** A route configuration whose virtual hosts come over VHDS. */
export function vhdsRouteConfig(name: string): Json {
  return { name, vhds: { config_source: ADS_SOURCE } };
}

const renamed = new WeakMap<Json, Map<string, Json>>();

/**
 * `vhost` as the VHDS resource of route configuration `routeConfig`: a shallow copy with the VHDS
 * name, memoised per vhost object and route configuration, so an unchanged vhost is the same object
 * at every flush and the xDS cache does not encode it again.
 */
export function asVhdsVhost(routeConfig: string, vhost: Json): Json {
  let byConfig = renamed.get(vhost);
  if (!byConfig) {
    byConfig = new Map();
    renamed.set(vhost, byConfig);
  }
  let out = byConfig.get(routeConfig);
  if (!out) {
    out = { ...vhost, name: vhdsName(routeConfig, String(vhost.name)) };
    byConfig.set(routeConfig, out);
  }
  return out;
}

/** Route tables (name → RouteConfiguration with virtual_hosts) → stubs and VHDS vhosts by name. */
export function splitRouteTables(routes: ReadonlyMap<string, Json>): {
  routes: Map<string, Json>;
  vhosts: Map<string, Json>;
} {
  const stubs = new Map<string, Json>();
  const vhosts = new Map<string, Json>();
  for (const [name, table] of routes) {
    stubs.set(name, vhdsRouteConfig(name));
    for (const vh of (table.virtual_hosts ?? []) as Json[]) {
      const v = asVhdsVhost(name, vh);
      const key = String(v.name);
      if (vhosts.has(key)) throw new Error(`two virtual hosts named ${key} in route configuration ${name}`);
      vhosts.set(key, v);
    }
  }
  return { routes: stubs, vhosts };
}
