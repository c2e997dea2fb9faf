// Where the API server is and how to authenticate, for kgw's REST client, without loading
// @kubernetes/client-node (about 75 MiB of the operator's memory for one class). Two sources:
// - a kubeconfig file: the current context's cluster (server, CA data/file, insecure flag) and user
//   (client certificate data/file and key, bearer token or token file); exec and auth-provider
//   plugins are not supported (kgw names the user and says so);
// - in-cluster: the ServiceAccount token and CA mounted into the pod, and KUBERNETES_SERVICE_HOST/
//   PORT. The token file is re-read (projected tokens rotate) at most once a minute.
import { readFileSync } from 'node:fs';
import type https from 'node:https';
import { parse } from 'yaml';

export interface KubeConnection {
  server: string;
  /** Puts TLS material and credentials on one request's options. */
  apply(opts: https.RequestOptions): Promise<void>;
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

interface ClusterEntry {
  server?: string;
  'certificate-authority-data'?: string;
  'certificate-authority'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}

interface UserEntry {
  'client-certificate-data'?: string;
  'client-certificate'?: string;
  'client-key-data'?: string;
  'client-key'?: string;
  token?: string;
  tokenFile?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  username?: string;
}

interface KubeconfigFile {
  'current-context'?: string;
  contexts?: Named<{ cluster?: string; user?: string }>[];
  clusters?: Named<ClusterEntry>[];
  users?: Named<UserEntry>[];
}

const b64 = (s: string): Buffer => Buffer.from(s, 'base64');

/** A token file read at most once per `maxAgeMs` (rotated projected tokens are picked up). */
function tokenReader(path: string, maxAgeMs = 60_000): () => string {
  let cached = '';
  let readAt = -Infinity;
  return () => {
    if (performance.now() - readAt > maxAgeMs) {
      cached = readFileSync(path, 'utf8').trim();
      readAt = performance.now();
    }
    return cached;
  };
}

function connection(
  server: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer; insecure?: boolean; servername?: string },
  token?: () => string,
): KubeConnection {
  return {
    server,
    apply(opts) {
      if (tls.ca) opts.ca = tls.ca;
      if (tls.cert) opts.cert = tls.cert;
      if (tls.key) opts.key = tls.key;
      if (tls.insecure) opts.rejectUnauthorized = false;
      if (tls.servername) opts.servername = tls.servername;
      if (token) opts.headers = { ...opts.headers, Authorization: `Bearer ${token()}` };
      return Promise.resolve();
    },
  };
}

/** The current context (or `context`) of a kubeconfig file. */
export function kubeconfigConnection(path: string, context?: string): KubeConnection {
  const file = (parse(readFileSync(path, 'utf8')) ?? {}) as KubeconfigFile;
  const ctxName = context ?? file['current-context'];
  const ctx = file.contexts?.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${path}: no context ${JSON.stringify(ctxName ?? '')}`);
  const cluster = file.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster?.server) throw new Error(`${path}: context ${ctxName} has no cluster with a server`);
  const user = file.users?.find((u) => u.name === ctx.user)?.user ?? {};
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new Error(
      `${path}: user ${ctx.user ?? ''} authenticates with an exec or auth-provider plugin, which kgw does ` +
        'not run; use a kubeconfig with a client certificate or a token',
    );
  }
  const read = (data: string | undefined, file?: string): Buffer | undefined =>
    data !== undefined ? b64(data) : file !== undefined ? readFileSync(file) : undefined;
  const tls = {
    ca: read(cluster['certificate-authority-data'], cluster['certificate-authority']),
    cert: read(user['client-certificate-data'], user['client-certificate']),
    key: read(user['client-key-data'], user['client-key']),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    servername: cluster['tls-server-name'],
  };
  const staticToken = user.token;
  const token =
    staticToken !== undefined
      ? () => staticToken
      : user.tokenFile !== undefined
        ? tokenReader(user.tokenFile)
        : undefined;
  return connection(cluster.server, tls, token);
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The pod's ServiceAccount (KUBERNETES_SERVICE_HOST/PORT, token and CA under SERVICE_ACCOUNT_DIR). */
export function inClusterConnection(dir = SERVICE_ACCOUNT_DIR, env = process.env): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new Error('not running in a cluster (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig');
  const h = host.includes(':') ? `[${host}]` : host;
  return connection(
    `https://${h}:${port}`,
    { ca: readFileSync(`${dir}/ca.crt`) },
    tokenReader(`${dir}/token`),
  );
}
