// The real cert-manager controller for tests: the binary and CRDs `build-cert-manager.sh` builds
// from the Go module proxy (cached under `<cache>/cert-manager-<version>/`), run against a test
// apiserver with CA ClusterIssuers (a CA kgw's pki makes, kept in a Secret in the cluster resource
// namespace; no ACME, no network). The webhook and cainjector are not needed: the controller
// alone issues (CertificateRequests of cert-manager.io issuers are approved by its built-in
// approver).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { createCa, type CertificateAuthority } from '../../operator/pki/ca.ts';
import type { Logger } from '../../operator/log.ts';
import type { ControlPlane } from './control-plane.ts';
import { kubeRequest } from './kube-http.ts';
import { applyManifests, loadManifests } from './manifests.ts';
import { cacheDir, pinnedVersions } from './paths.ts';
import { freePorts, progress, spawnOwned, tailFile, waitUntil, type OwnedProcess } from './proc.ts';

/** Used when versions.env pins no KGW_CERT_MANAGER_VERSION (see build-cert-manager.sh for why 1.11). */
export const DEFAULT_CERT_MANAGER_VERSION = 'v1.11.5';

export function certManagerVersion(): string {
  return (
    process.env.KGW_CERT_MANAGER_VERSION ??
    pinnedVersions().KGW_CERT_MANAGER_VERSION ??
    DEFAULT_CERT_MANAGER_VERSION
  );
}

/** `<cache>/cert-manager-<version>` (binary `controller`, `crds/`), or KGW_CERT_MANAGER_DIR. */
export function certManagerDir(): string {
  const dir = process.env.KGW_CERT_MANAGER_DIR ?? join(cacheDir(), `cert-manager-${certManagerVersion()}`);
  if (!existsSync(join(dir, 'controller')) || !existsSync(join(dir, 'crds'))) {
    throw new Error(
      `cert-manager is not built in ${dir}: run \`bash test/env/setup.sh\` (it runs build-cert-manager.sh)`,
    );
  }
  return dir;
}

/** cert-manager's CRDs as objects (the module ships them as Helm templates: labels are dropped). */
export function certManagerCrds(dir = certManagerDir()): KubernetesObject[] {
  return loadManifests(join(dir, 'crds')).map((o) => {
    const meta = { ...o.metadata };
    delete meta.labels;
    return { ...o, metadata: meta };
  });
}

export async function installCertManagerCrds(kc: KubeConfig): Promise<void> {
  await applyManifests(kc, certManagerCrds());
}

export interface CertManager {
  version: string;
  /** The issuing CA (clients trust its certificate). */
  ca: CertificateAuthority;
  /** Namespace holding the CA Secret (the controller's --cluster-resource-namespace). */
  namespace: string;
  proc: OwnedProcess;
  logPath: string;
  stop(): Promise<void>;
}

export interface StartCertManagerOptions {
  cp: ControlPlane;
  /** CA ClusterIssuers to create (all signing with the same CA). Default: none. */
  clusterIssuers?: string[];
  /** Default `cert-manager`. */
  namespace?: string;
  log?: Logger;
}

/**
 * Installs the CRDs, creates the CA Secret and ClusterIssuers, and starts the controller (no
 * leader election, metrics on a free local port). Resolves once every ClusterIssuer is Ready.
 */
export async function startCertManager(opts: StartCertManagerOptions): Promise<CertManager> {
  const dir = certManagerDir();
  const version = certManagerVersion();
  const kc = opts.cp.kubeConfig();
  const namespace = opts.namespace ?? 'cert-manager';
  const issuers = opts.clusterIssuers ?? [];
  progress(`cert-manager ${version}: CRDs, CA, ClusterIssuers ${issuers.join(', ') || '(none)'}`, opts.log);
  await applyManifests(kc, certManagerCrds(dir));
  const ca = await createCa({ commonName: 'kgw test CA (cert-manager CA issuer)', validityDays: 30 });
  await applyManifests(kc, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'kubernetes.io/tls',
      metadata: { name: 'kgw-test-ca', namespace },
      data: {
        'tls.crt': Buffer.from(ca.certPem).toString('base64'),
        'tls.key': Buffer.from(ca.keyPem).toString('base64'),
      },
    },
    ...issuers.map((name) => ({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name },
      spec: { ca: { secretName: 'kgw-test-ca' } },
    })),
  ]);
  const logDir = mkdtempSync(join(tmpdir(), 'kgw-cert-manager-'));
  const logPath = join(logDir, 'cert-manager.log');
  const [metricsPort] = await freePorts(1);
  const proc = spawnOwned(
    'cert-manager',
    join(dir, 'controller'),
    [
      `--kubeconfig=${opts.cp.kubeconfigPath}`,
      `--cluster-resource-namespace=${namespace}`,
      '--leader-elect=false',
      `--metrics-listen-address=127.0.0.1:${metricsPort ?? 0}`,
      '--v=2',
    ],
    { logPath },
  );
  const stop = async (): Promise<void> => {
    await proc.stop();
    if (process.env.KGW_KEEP_ENV !== '1') rmSync(logDir, { recursive: true, force: true });
  };
  try {
    for (const name of issuers) {
      await waitUntil(
        `ClusterIssuer ${name} Ready`,
        async () => {
          const res = await kubeRequest(kc, 'GET', `/apis/cert-manager.io/v1/clusterissuers/${name}`);
          const st = res.json as { status?: { conditions?: { type: string; status: string }[] } };
          return st.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
        },
        {
          timeoutMs: 60_000,
          intervalMs: 200,
          abort: () => (proc.exitInfo() ? `cert-manager exited:\n${tailFile(logPath)}` : undefined),
        },
      );
    }
  } catch (err) {
    const tail = tailFile(logPath);
    await stop();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`, { cause: err });
  }
  progress(`cert-manager ${version} running (log ${logPath})`, opts.log);
  return { version, ca, namespace, proc, logPath, stop };
}

/** The part of kgw's REST client renewal needs. */
interface StatusClient {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

interface CertificateWithStatus {
  metadata: { generation?: number };
  status?: { revision?: number; conditions?: { type: string; status?: string }[] };
}

/** Issued, Ready and not issuing: a renewal requested now cannot be folded into the last one. */
function atRest(c: CertificateWithStatus): boolean {
  const conds = c.status?.conditions ?? [];
  return (
    (c.status?.revision ?? 0) >= 1 &&
    conds.some((x) => x.type === 'Ready' && x.status === 'True') &&
    !conds.some((x) => x.type === 'Issuing' && x.status === 'True')
  );
}

/**
 * Triggers re-issuance of a cert-manager Certificate the way `cmctl renew` does: condition
 * Issuing=True (ManuallyTriggered) on its status. It first waits (at most 60 s) until the
 * Certificate is at rest: Ready, `status.revision` set and no Issuing condition. cert-manager
 * writes the Secret before it records the revision, so an Issuing condition set in between is
 * taken as the issuance already done, and no new certificate comes. cert-manager writes the same
 * status, so a conflict (409) re-reads and tries again (at most 10 times). Returns the revision
 * the renewal starts from (the renewed certificate is revision + 1).
 */
export async function renewCertificate(rest: StatusClient, namespace: string, name: string): Promise<number> {
  const path = `/apis/cert-manager.io/v1/namespaces/${namespace}/certificates/${name}`;
  await waitUntil(
    `Certificate ${namespace}/${name} issued and not issuing`,
    async () => atRest(await rest.request<CertificateWithStatus>('GET', path)) || undefined,
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  for (let attempt = 0; ; attempt++) {
    const cur = await rest.request<CertificateWithStatus>('GET', path);
    const conditions = [
      ...(cur.status?.conditions ?? []).filter((c) => c.type !== 'Issuing'),
      {
        type: 'Issuing',
        status: 'True',
        reason: 'ManuallyTriggered',
        message: 'Certificate re-issuance manually triggered (kgw test)',
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        ...(cur.metadata.generation !== undefined ? { observedGeneration: cur.metadata.generation } : {}),
      },
    ];
    try {
      await rest.request('PUT', `${path}/status`, { ...cur, status: { ...cur.status, conditions } });
      return cur.status?.revision ?? 0;
    } catch (err) {
      const conflict = (err as { status?: number }).status === 409;
      if (!conflict || attempt >= 9) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
