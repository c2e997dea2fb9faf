// Knative's readiness probe contract: request every Envoy replica of every fleet a KIngress uses,
// for each of its hosts, with `K-Network-Probe: probe` and `K-Network-Hash: override`; the probe
// routes overwrite the hash with the programmed one and the backend echoes it. A replica is done
// when the echoed hash equals the expected one. Retries back off from 50 ms to 2 s; a newer hash
// (or cancel) abandons the old round.
//
// A fleet whose listeners expect PROXY protocol closes connections that do not start with a
// PROXY header, so probes to it send one first: version 2 with the LOCAL command, which says
// "a connection of the proxy's own, such as a health check" and leaves the addresses as they are.
import { http } from '../node-http.ts';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { HASH_OVERRIDE, HEADER_HASH, HEADER_PROBE } from '../api/kingress.ts';

export interface ProbeTarget {
  address: string;
  port: number;
  host: string;
  tls: boolean;
  /** The listener expects a PROXY protocol header first (KnativeGateway clientIP.proxyProtocol). */
  proxyProtocol?: boolean;
}

/** A PROXY protocol v2 header: the signature, version 2 + command LOCAL, family UNSPEC, no addresses. */
export const PROXY_V2_LOCAL = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x20, 0x00, 0x00, 0x00,
]);

/** A connection to `t` that starts with PROXY_V2_LOCAL, then speaks TLS when `t.tls`. */
function proxiedConnection(t: ProbeTarget): net.Socket {
  const raw = net.connect({ host: t.address, port: t.port });
  raw.write(PROXY_V2_LOCAL);
  if (!t.tls) return raw;
  const secure = tls.connect({ socket: raw, servername: t.host, rejectUnauthorized: false });
  raw.once('error', (err) => secure.destroy(err));
  return secure;
}

/**
 * Plain-HTTP probes reuse their connections (one pool per replica address and port). A connect per
 * probe was the operator's largest CPU cost at scale: 10k KIngresses on 3 replicas are ~25k probes,
 * and their connects took ~20 s of the operator's CPU (profile in bench/README.md). Reuse does not
 * weaken the contract: Envoy picks the route table per request, so a probe on an older connection
 * still sees the newest routes; a connection of a listener being drained is closed by Envoy
 * (`Connection: close`) and not reused. Idle connections close after PROBE_IDLE_MS, well inside
 * Envoy's idle timeout. TLS probes (a pool per SNI name would not be reused) and PROXY-protocol
 * probes keep a connection each.
 */
export const PROBE_IDLE_MS = 4000;
const probeAgent = new http.Agent({ keepAlive: true, timeout: PROBE_IDLE_MS, scheduling: 'lifo' });

/**
 * Drops the pooled probe connections (tests). The operator does not need it: a pooled socket is
 * unreferenced while idle, so it never keeps the process alive, and it closes after PROBE_IDLE_MS.
 */
export function closeProbeConnections(): void {
  probeAgent.destroy();
}

export type ProbeVerdict = 'ok' | 'retry';

/**
 * Why a probe request did not succeed: `error` (no answer: refused, reset, timeout), `status` (404,
 * 503 or another 5xx: the replica has no route for the host yet, or no backend answered) or `hash`
 * (200 with another hash: the replica serves an older configuration).
 */
export type ProbeFailure = 'error' | 'status' | 'hash';
export const PROBE_FAILURES: readonly ProbeFailure[] = ['error', 'status', 'hash'];

/** One probe request (1 s timeout, certificate not verified, SNI = host; see probeAgent on reuse). */
export async function probeOnce(t: ProbeTarget, hash: string, timeoutMs = 1000): Promise<ProbeVerdict> {
  return (await probeResult(t, hash, timeoutMs)) === 'ok' ? 'ok' : 'retry';
}

/** Like probeOnce, with the reason a request that must be retried failed. */
export function probeResult(t: ProbeTarget, hash: string, timeoutMs = 1000): Promise<'ok' | ProbeFailure> {
  return new Promise((resolve) => {
    const opts: https.RequestOptions = {
      host: t.address,
      port: t.port,
      path: '/healthz',
      method: 'GET',
      // createConnection is used only without an agent (and never pools either way).
      ...(t.proxyProtocol
        ? { createConnection: () => proxiedConnection(t) }
        : { agent: t.tls ? false : probeAgent }),
      timeout: timeoutMs,
      headers: {
        Host: t.host,
        'User-Agent': 'Knative-Ingress-Probe',
        [HEADER_PROBE]: 'probe',
        [HEADER_HASH]: HASH_OVERRIDE,
      },
      ...(t.tls ? { servername: t.host, rejectUnauthorized: false } : {}),
    };
    const req = (t.tls ? https : http).request(opts, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const got = res.headers[HEADER_HASH.toLowerCase()];
      if (status === 200) resolve(got === undefined || got === hash ? 'ok' : 'hash');
      else if (status === 404 || status === 503 || status >= 500) resolve('status');
      else resolve('ok'); // Knative treats other answers (e.g. 301, 400) as best-effort success
    });
    req.on('timeout', () => req.destroy(new Error('probe timeout')));
    req.on('error', () => resolve('error'));
    req.end();
  });
}

/**
 * Bounds the probe requests in flight across all rounds, like the fixed worker pool of Knative's
 * prober: thousands of KIngresses created at once must not turn into tens of thousands of
 * concurrent connections (a probe storm that starves the operator and the Envoys). FIFO.
 */
export class ProbeLimiter {
  readonly max: number;
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(max: number) {
    this.max = max;
  }

  get inFlight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiting.length;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((r) => this.waiting.push(r)); // the releaser hands its slot over
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** A request skipped because its round was cancelled while it waited for the limiter. */
const CANCELLED = 'cancelled' as const;

export interface ProbeRound {
  readonly done: Promise<boolean>;
  cancel(): void;
  /**
   * Retries now the targets waiting out a backoff (e.g. when an Envoy has just ACKed new
   * config): readiness then follows the config by one probe, not by up to a backoff step.
   */
  poke(): void;
}

/**
 * Probes all targets until each answers with the hash; resolves true, or false when cancelled.
 * With a limiter, every request waits for a slot (a cancelled round gives its turns up at once).
 * `onResult` hears of every answered request, ok or to be retried (not of those a cancel cut short).
 */
export function probeAll(
  targets: ProbeTarget[],
  hash: string,
  maxDelayMs = 2000,
  limiter?: ProbeLimiter,
  onResult?: (result: 'ok' | ProbeFailure) => void,
): ProbeRound {
  let cancelled = false;
  const timers = new Map<NodeJS.Timeout, () => void>();
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const t = setTimeout(() => {
        timers.delete(t);
        r();
      }, ms);
      timers.set(t, r);
    });
  let pokes = 0;
  const one = async (t: ProbeTarget): Promise<void> => {
    let delay = 50;
    while (!cancelled) {
      const pokesBefore = pokes;
      const verdict = limiter
        ? await limiter.run(() => (cancelled ? Promise.resolve(CANCELLED) : probeResult(t, hash)))
        : await probeResult(t, hash);
      if (verdict !== CANCELLED) onResult?.(verdict);
      if (verdict === 'ok') return;
      if (cancelled) break;
      if (pokes !== pokesBefore) continue; // poked while this attempt was in flight: retry now
      await sleep(delay);
      delay = Math.min(delay * 2, maxDelayMs);
    }
  };
  const done = Promise.all(targets.map(one)).then(() => !cancelled);
  const wakeAll = () => {
    for (const [t, wake] of timers) {
      clearTimeout(t);
      wake();
    }
    timers.clear();
  };
  return {
    done,
    cancel() {
      cancelled = true;
      wakeAll();
    },
    poke() {
      pokes++;
      wakeAll();
    },
  };
}
