// Shared helpers for the Knative ingress conformance e2e tests (one test per conformance
// behaviour key): spec builders, runtime requests that require 200 + runtime JSON, weighted
// distribution checks, TLS secrets made with the openssl CLI, and backend teardown.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest, type HttpRequestOptions } from '../backends/client.ts';
import type { RuntimeInfo } from '../backends/runtime.ts';
import type {
  HTTPIngressPath,
  IngressBackendSplit,
  IngressRule,
  KIngress,
  Visibility,
} from '../../operator/api/kingress.ts';
import {
  createIngress,
  ingressPath,
  startTestBackend,
  waitReady,
  TEST_NAMESPACE,
  type BackendSpec,
  type Env,
  type TestBackend,
} from './harness.ts';
import type { IngressSpec } from '../../operator/api/kingress.ts';

export interface Gateway {
  address: string;
  port: number;
}

export function split(serviceName: string, extra: Partial<IngressBackendSplit> = {}): IngressBackendSplit {
  return { serviceNamespace: TEST_NAMESPACE, serviceName, servicePort: 80, ...extra };
}

export function rule(
  hosts: string[],
  paths: HTTPIngressPath[],
  visibility: Visibility = 'ExternalIP',
): IngressRule {
  return { hosts, visibility, http: { paths } };
}

/** createIngress + waitReady. */
export async function createReady(env: Env, name: string, spec: IngressSpec): Promise<KIngress> {
  await createIngress(env, name, spec);
  return waitReady(env, name);
}

/** Starts backends one after another (each in its own pod, with Service + EndpointSlice). */
export async function startBackends(env: Env, specs: BackendSpec[]): Promise<TestBackend[]> {
  const out: TestBackend[] = [];
  for (const s of specs) out.push(await startTestBackend(env, s));
  return out;
}

/** Stops a backend's process and pod and deletes its Service and EndpointSlice. */
export async function deleteBackend(env: Env, b: TestBackend, ns = TEST_NAMESPACE): Promise<void> {
  await b.stop();
  await env.rest.request('DELETE', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${b.name}-1`);
  await env.rest.request('DELETE', `/api/v1/namespaces/${ns}/services/${b.name}`);
}

export type RuntimeRequestOptions = Omit<HttpRequestOptions, 'address' | 'port' | 'host'>;

/** One request that must answer 200 with the runtime JSON (like conformance's RuntimeRequest). */
export async function runtimeGet(
  gw: Gateway,
  host: string,
  opts: RuntimeRequestOptions = {},
): Promise<RuntimeInfo> {
  const res = await httpRequest({ address: gw.address, port: gw.port, host, ...opts });
  if (res.status !== 200) {
    throw new Error(`GET ${host}${opts.path ?? '/'}: status ${res.status}: ${res.body.slice(0, 300)}`);
  }
  return res.json<RuntimeInfo>();
}

/** First value of a request header the runtime backend saw (Go-canonical name). */
export function seen(info: RuntimeInfo, name: string): string | undefined {
  return info.request.headers[name]?.[0];
}

/** Issues n requests (concurrency c) and counts which backend (runtime suffix) answered each. */
export async function distribution(
  n: number,
  c: number,
  once: () => Promise<RuntimeInfo>,
): Promise<{ counts: Map<string, number>; errors: string[] }> {
  const counts = new Map<string, number>();
  const errors: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      next++;
      try {
        const info = await once();
        counts.set(info.host.suffix, (counts.get(info.host.suffix) ?? 0) + 1);
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  return { counts, errors };
}

/** Conformance's percentage check: each backend within ±margin percentage points; 0% gets none. */
export function checkPercentages(
  counts: Map<string, number>,
  expected: Record<string, number>,
  total: number,
  marginPP = 10,
): string[] {
  const problems: string[] = [];
  for (const [name, pct] of Object.entries(expected)) {
    const got = counts.get(name) ?? 0;
    const gotPct = (100 * got) / total;
    if (pct === 0 && got !== 0) problems.push(`${name}: expected no requests, got ${got}`);
    else if (Math.abs(gotPct - pct) > marginPP)
      problems.push(`${name}: expected ${pct}% ±${marginPP}, got ${gotPct}%`);
  }
  for (const name of counts.keys()) {
    if (!(name in expected))
      problems.push(`unexpected backend ${name} answered ${counts.get(name)} requests`);
  }
  return problems;
}

/**
 * A self-signed ECDSA P-256 certificate for `hosts` (SANs; CN = first host) made with the openssl
 * CLI, stored as a kubernetes.io/tls Secret labelled like conformance's test secrets. Returns the
 * certificate PEM (clients trust it as their CA).
 */
export async function createTlsSecret(
  env: Env,
  name: string,
  hosts: string[],
  ns = TEST_NAMESPACE,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kgw-tls-'));
  try {
    const key = join(dir, 'tls.key');
    const crt = join(dir, 'tls.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        crt,
        '-days',
        '1',
        '-subj',
        `/O=Knative Ingress Conformance Testing/CN=${hosts[0]}`,
        '-addext',
        `subjectAltName=${hosts.map((h) => `DNS:${h}`).join(',')}`,
        '-addext',
        'basicConstraints=critical,CA:TRUE',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const certPem = readFileSync(crt, 'utf8');
    await env.rest.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: {
        name,
        namespace: ns,
        labels: { 'networking.internal.knative.dev/certificate-uid': 'test-uid' },
      },
      data: {
        'tls.crt': Buffer.from(certPem).toString('base64'),
        'tls.key': readFileSync(key).toString('base64'),
      },
    });
    return certPem;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Read-modify-write of a KIngress spec (retries on 409), then waits until Ready for the new generation. */
export async function updateIngressReady(
  env: Env,
  name: string,
  mutate: (spec: IngressSpec) => void,
  ns = TEST_NAMESPACE,
): Promise<KIngress> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const cur = await env.rest.get<KIngress>(ingressPath(ns, name));
    mutate(cur.spec);
    try {
      await env.rest.request('PUT', ingressPath(ns, name), cur);
      return await waitReady(env, name, ns);
    } catch (e) {
      if ((e as { status?: number }).status !== 409) throw e;
    }
  }
  throw new Error(`could not update KIngress ${ns}/${name}: persistent conflicts`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
