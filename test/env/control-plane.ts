// A real Kubernetes control plane for tests and the demo: etcd + kube-apiserver on 127.0.0.1 free
// ports, a fresh temp dir per instance (so several can run at once), an admin token in
// system:masters, RBAC, service-account keys made with node:crypto, and a kubeconfig file.
// Logs: <dir>/etcd.log and <dir>/kube-apiserver.log (named in every startup error).
import { generateKeyPair, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as plainGet } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../../operator/log.ts';
import { apiserverBin, etcdBin } from './paths.ts';
import {
  freePorts,
  onProcessExit,
  progress,
  spawnOwned,
  tailFile,
  waitUntil,
  type OwnedProcess,
} from './proc.ts';

export interface ControlPlane {
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of user `admin` in group system:masters. */
  token: string;
  /** PEM of the CA that signed the apiserver's serving certificate. */
  caPem: string;
  kubeconfigPath: string;
  /** Working dir: etcd data, certs, keys, kubeconfig and the two log files. */
  dir: string;
  etcdLogPath: string;
  apiserverLogPath: string;
  /** Milliseconds from the call to /readyz answering ok. */
  startupMs: number;
  /** A new KubeConfig for the admin user. */
  kubeConfig(): KubeConfig;
  /** Stops the apiserver and etcd; removes `dir` if it was a temp dir (unless KGW_KEEP_ENV=1). */
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Working dir (kept on stop). Default: a new temp dir, removed on stop. */
  dir?: string;
  log?: Logger;
  /** Extra kube-apiserver flags (`--name=value`), appended last. */
  apiserverArgs?: string[];
  /** Bound for /readyz (default 60 s). */
  readyTimeoutMs?: number;
}

/**
 * Cluster IP range handed to the apiserver: inside 198.18.0.0/15, clear of the local runtime's
 * 198.18.N.0/24 networks and of the real test cluster's Pod (198.19.0.0/17) and Service
 * (198.19.128.0/18) ranges. No test ever sends traffic to these addresses.
 */
export const SERVICE_CLUSTER_IP_RANGE = '198.19.192.0/20';

const generateKeyPairAsync = promisify(generateKeyPair);

/** Starts etcd and kube-apiserver; resolves once /readyz answers ok. A port clash is retried (3 attempts). */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const maxAttempts = 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, attempt);
    } catch (err) {
      if (!(err instanceof PortClashError) || attempt >= maxAttempts) throw err;
      progress(`control plane: port clash (${err.message}), retrying`, opts.log);
    }
  }
}

class PortClashError extends Error {}

async function startOnce(opts: ControlPlaneOptions, attempt: number): Promise<ControlPlane> {
  const t0 = Date.now();
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kgw-cp-'));
  mkdirSync(dir, { recursive: true });
  const keep = process.env.KGW_KEEP_ENV === '1';
  const unregisterDirCleanup =
    ownsDir && !keep ? onProcessExit(() => rmSync(dir, { recursive: true, force: true })) : () => false;
  // A port clash is retried with a fresh dir; any other failure keeps the dir so its logs can be read.
  const startupFailure = (err: unknown, clash: boolean): Error => {
    unregisterDirCleanup();
    const msg = err instanceof Error ? err.message : String(err);
    if (clash) {
      if (ownsDir) rmSync(dir, { recursive: true, force: true });
      return new PortClashError(msg);
    }
    return new Error(`control plane did not start (logs kept in ${dir}): ${msg}`, { cause: err });
  };
  const etcdLogPath = join(dir, 'etcd.log');
  const apiserverLogPath = join(dir, 'kube-apiserver.log');
  const etcdPath = etcdBin();
  const apiserverPath = apiserverBin();
  progress(
    `control plane: starting etcd + kube-apiserver in ${dir}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
    opts.log,
  );

  const [etcdClientPort, etcdPeerPort, apiPort] = (await freePorts(3)) as [number, number, number];
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  const etcdDataDir = join(dir, 'etcd');
  rmSync(etcdDataDir, { recursive: true, force: true });
  const etcd = spawnOwned(
    'etcd',
    etcdPath,
    [
      '--name=default',
      `--data-dir=${etcdDataDir}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=default=${peerUrl}`,
      '--initial-cluster-state=new',
      // a single member: elect itself quickly
      '--heartbeat-interval=10',
      '--election-timeout=100',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
    ],
    { logPath: etcdLogPath, cwd: dir },
  );

  // keys and token while etcd boots: EC P-256 is much faster to generate than RSA
  const token = randomBytes(24).toString('hex');
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', {
    namedCurve: 'prime256v1',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const saKey = join(dir, 'sa.key');
  const saPub = join(dir, 'sa.pub');
  const tokenFile = join(dir, 'tokens.csv');
  const certDir = join(dir, 'certs');
  writeFileSync(saKey, privateKey, { mode: 0o600 });
  writeFileSync(saPub, publicKey);
  writeFileSync(tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });

  // The apiserver would retry a missing etcd, but with a 1 s gRPC backoff: wait for etcd instead.
  const etcdExited = (): string | undefined => {
    const info = etcd.exitInfo();
    return info === undefined
      ? undefined
      : `etcd exited (code ${info.code}); log ${etcdLogPath}:\n${tailFile(etcdLogPath, 20)}`;
  };
  try {
    await waitUntil(
      `etcd ${etcdUrl}/health (log: ${etcdLogPath})`,
      async () => (await httpGet(`${etcdUrl}/health`)).includes('"true"'),
      {
        timeoutMs: 20_000,
        intervalMs: 10,
        abort: etcdExited,
      },
    );
  } catch (err) {
    await etcd.stop();
    throw startupFailure(err, /address already in use/.test(tailFile(etcdLogPath, 50)));
  }

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = spawnOwned(
    'kube-apiserver',
    apiserverPath,
    [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${certDir}`,
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--token-auth-file=${tokenFile}`,
      '--authorization-mode=RBAC',
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      // no controller-manager or kubelets here: the `kubernetes` Endpoints would point at 127.0.0.1,
      // which validation rejects, so do not reconcile them
      '--endpoint-reconciler-type=none',
      '--allow-privileged=true',
      '--profiling=false',
      '--enable-priority-and-fairness=false',
      ...(opts.apiserverArgs ?? []),
    ],
    { logPath: apiserverLogPath, cwd: dir },
  );

  const procs: OwnedProcess[] = [apiserver, etcd];
  const stopAll = async (): Promise<void> => {
    // A graceful apiserver shutdown sometimes takes a second; when the dir is thrown away anyway
    // there is nothing to keep, so the apiserver is killed outright. etcd always stops cleanly.
    await apiserver.stop(ownsDir && !keep ? 0 : 10_000);
    await etcd.stop(10_000);
  };
  const exitedReason = (): string | undefined => {
    for (const p of procs) {
      const info = p.exitInfo();
      if (info !== undefined) {
        return `${p.name} exited (code ${info.code}, signal ${info.signal}); log ${p.logPath}:\n${tailFile(p.logPath, 20)}`;
      }
    }
    return undefined;
  };

  let caPem: string;
  try {
    progress(`control plane: waiting for ${server}/readyz`, opts.log);
    await waitUntil(
      `kube-apiserver ${server}/readyz (logs: ${apiserverLogPath}, ${etcdLogPath})`,
      async () => (await httpsGet(`${server}/readyz`, token)).status === 200,
      { timeoutMs: opts.readyTimeoutMs ?? 60_000, intervalMs: 50, abort: exitedReason },
    );
    caPem = readServingCA(certDir);
    // the serving certificate must verify against the CA we hand out
    const check = await httpsGet(`${server}/version`, token, caPem);
    if (check.status !== 200)
      throw new Error(`GET /version with the CA: status ${check.status}: ${check.body}`);
  } catch (err) {
    await stopAll();
    throw startupFailure(
      err,
      /address already in use/.test(tailFile(apiserverLogPath, 50) + tailFile(etcdLogPath, 50)),
    );
  }

  const kubeconfigPath = join(dir, 'kubeconfig');
  const kubeconfigText = kubeconfigYaml(server, token, caPem);
  writeFileSync(kubeconfigPath, kubeconfigText, { mode: 0o600 });
  const startupMs = Date.now() - t0;
  progress(`control plane: ready at ${server} in ${startupMs} ms (kubeconfig ${kubeconfigPath})`, opts.log);

  let stopped: Promise<void> | undefined;
  return {
    server,
    token,
    caPem,
    kubeconfigPath,
    dir,
    etcdLogPath,
    apiserverLogPath,
    startupMs,
    kubeConfig(): KubeConfig {
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigText);
      return kc;
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await stopAll();
        unregisterDirCleanup();
        if (ownsDir && !keep) rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

/**
 * With --cert-dir the apiserver writes a self-signed CA and a serving certificate signed by it to
 * apiserver.crt (leaf first, CA last). The last PEM block is the CA.
 */
function readServingCA(certDir: string): string {
  const file = join(certDir, 'apiserver.crt');
  if (!existsSync(file)) throw new Error(`no ${file}`);
  const blocks = readFileSync(file, 'utf8').match(
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g,
  );
  const last = blocks?.[blocks.length - 1];
  if (last === undefined) throw new Error(`no certificate in ${file}`);
  return `${last}\n`;
}

function kubeconfigYaml(server: string, token: string, caPem: string): string {
  // JSON is valid YAML; client-node and kubectl both read it.
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kgw-test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'kgw-test', context: { cluster: 'kgw-test', user: 'admin', namespace: 'default' } }],
    'current-context': 'kgw-test',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** GET over HTTPS with a bearer token; without `caPem` the certificate is not checked (readiness only). */
function httpsGet(url: string, token: string, caPem?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'GET',
        headers: { authorization: `Bearer ${token}` },
        ...(caPem !== undefined ? { ca: caPem } : { rejectUnauthorized: false }),
        timeout: 5000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Body of a plain HTTP GET (etcd health). */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = plainGet(url, { timeout: 2000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: GET ${url}`)));
    req.on('error', reject);
  });
}
