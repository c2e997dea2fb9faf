// Raw JSON requests to an apiserver using a KubeConfig's server, CA and credentials. The test env
// uses it where client-node's typed serializer would drop fields of raw manifests (it maps typed
// objects by camelCase attribute names, so `x-kubernetes-preserve-unknown-fields` in a YAML CRD is
// lost) and to resolve kinds to resources by discovery.
import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export interface KubeResponse {
  status: number;
  body: string;
  /** Parsed body when it is JSON, else undefined. */
  json: unknown;
}

/** Error for a non-2xx answer; `status` is the HTTP status, `message` includes the server's message. */
export class KubeHttpError extends Error {
  readonly status: number;
  readonly body: string;
  constructor(method: string, path: string, status: number, body: string) {
    let detail = body.trim();
    try {
      const s = JSON.parse(body) as { message?: string };
      if (typeof s.message === 'string') detail = s.message;
    } catch {
      // not JSON
    }
    super(`${method} ${path}: HTTP ${status}: ${detail}`);
    this.status = status;
    this.body = body;
  }
}

/** One request; throws KubeHttpError unless the status is 2xx. */
export async function kubeRequest(
  kc: KubeConfig,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<KubeResponse> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('kubeconfig has no current cluster');
  const opts: RequestOptions = {
    method,
    headers: { accept: 'application/json' },
    timeout: 30_000,
    agent: false,
  };
  await kc.applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  if (payload !== undefined) {
    opts.headers = {
      ...opts.headers,
      'content-type': contentType,
      'content-length': Buffer.byteLength(payload),
    };
  }
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(new URL(path, server), opts, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      r.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
  if (res.status < 200 || res.status > 299) throw new KubeHttpError(method, path, res.status, res.body);
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { ...res, json };
}

/** The API server's refusal message for creating `obj` at `path` ('' when it was created). */
export async function createRejection(kc: KubeConfig, path: string, obj: unknown): Promise<string> {
  try {
    await kubeRequest(kc, 'POST', path, obj);
    return '';
  } catch (err) {
    if (err instanceof KubeHttpError) return err.message;
    throw err;
  }
}

export interface ResourceInfo {
  /** Plural resource name, e.g. `ingresses`. */
  name: string;
  namespaced: boolean;
  kind: string;
}

/** Resolves apiVersion + kind to a resource through discovery (one GET per group version). */
export class ResourceResolver {
  private readonly kc: KubeConfig;
  private readonly cache = new Map<string, ResourceInfo[]>();

  constructor(kc: KubeConfig) {
    this.kc = kc;
  }

  /** The resource for a kind, or undefined if the group version does not serve it (yet). */
  async resolve(apiVersion: string, kind: string): Promise<ResourceInfo | undefined> {
    const hit = this.cache.get(apiVersion)?.find((r) => r.kind === kind);
    if (hit !== undefined) return hit;
    let list: ResourceInfo[];
    try {
      const res = await kubeRequest(this.kc, 'GET', groupVersionPath(apiVersion));
      list = ((res.json as { resources?: ResourceInfo[] }).resources ?? []).filter(
        (r) => !r.name.includes('/'),
      );
    } catch (err) {
      if (err instanceof KubeHttpError && err.status === 404) return undefined;
      throw err;
    }
    this.cache.set(apiVersion, list);
    return list.find((r) => r.kind === kind);
  }

  /** Path of one object (`name` given) or of its collection. */
  async objectPath(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name?: string,
  ): Promise<string> {
    const r = await this.resolve(apiVersion, kind);
    if (r === undefined) throw new UnknownKindError(apiVersion, kind);
    const parts = [groupVersionPath(apiVersion)];
    if (r.namespaced) parts.push('namespaces', encodeURIComponent(namespace ?? 'default'));
    parts.push(r.name);
    if (name !== undefined) parts.push(encodeURIComponent(name));
    return parts.join('/');
  }
}

/** The apiserver does not serve this kind (yet: a new CRD may take a moment to show in discovery). */
export class UnknownKindError extends Error {
  constructor(apiVersion: string, kind: string) {
    super(`the apiserver does not serve ${apiVersion} ${kind}`);
  }
}

function groupVersionPath(apiVersion: string): string {
  return apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
}
