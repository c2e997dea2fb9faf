// The rate limits of fleets whose RoutePolicy rate limits are Global, served to their rate-limit
// service (envoyproxy/ratelimit with CONFIG_TYPE=GRPC_XDS_SOTW) over kgw's ADS endpoint: a state of
// the world stream of RateLimitConfig resources (render/global-rate-limit.ts), one per policy. The
// service names its fleet in node.id (`<gateway>/<fleet>`, CONFIG_GRPC_XDS_NODE_ID); it sets no
// node.cluster. Each set() of a fleet is one version; a stream gets the current version when it
// has not had it yet (first request, or a set() since). A NACK is logged and kept for the stream;
// the service keeps its previous limits and gets the next version when there is one.
import { createHash } from 'node:crypto';
import type { Logger } from '../log.ts';
import { encodeResource } from './protojson.ts';
import { encodeSotwResponse, sotwChunk, type SotwRequest } from './wire.ts';

export const TYPE_RATE_LIMIT_CONFIG = 'type.googleapis.com/ratelimit.config.ratelimit.v3.RateLimitConfig';

interface FleetConfigs {
  version: string;
  names: string[];
  chunks: Buffer[];
  /** Digest of the encoded set: an equal set is no new version. */
  digest: string;
}

/** A connected rate-limit service, as reported by connections(). */
export interface RateLimitServiceInfo {
  fleet: string;
  /** The version last ACKed. */
  acked?: string;
  /** The last NACK's error (cleared by the next ACK). */
  lastNack?: string;
  /**
   * When the client certificate it connected with expires (RFC 3339). envoyproxy/ratelimit reads it
   * once at start: a certificate kgw renewed in the Secret is used only after a restart.
   */
  certificateNotAfter?: string;
  /** When that certificate became valid (RFC 3339). */
  certificateNotBefore?: string;
}

/** The validity of the client certificate a stream connected with (RFC 3339), when known. */
export interface CertificateWindow {
  notBefore?: string;
  notAfter?: string;
}

/** One rate-limit service's stream. */
export class RateLimitStream {
  readonly fleet: string;
  #sentVersion: string | undefined;
  #nonce = '';
  #acked: string | undefined;
  #lastNack: string | undefined;
  readonly #write: (bytes: Buffer) => void;
  readonly #configs: RateLimitConfigs;
  readonly #certificate: CertificateWindow;

  constructor(
    fleet: string,
    configs: RateLimitConfigs,
    write: (bytes: Buffer) => void,
    certificate: CertificateWindow = {},
  ) {
    this.fleet = fleet;
    this.#configs = configs;
    this.#write = write;
    this.#certificate = certificate;
  }

  /** A request of the stream (the first one included). */
  handle(req: SotwRequest): void {
    if (req.response_nonce !== '' && req.response_nonce === this.#nonce) {
      if (req.error_detail) {
        this.#lastNack = req.error_detail.message;
        this.#configs.log.warn(
          { fleet: this.fleet, version: this.#sentVersion, error: req.error_detail.message },
          'rate-limit service rejected its configuration',
        );
      } else {
        this.#acked = req.version_info;
        this.#lastNack = undefined;
      }
    }
    this.pump();
  }

  /** Sends the fleet's current configuration if this stream has not had it. */
  pump(): void {
    const c = this.#configs.current(this.fleet);
    if (!c || c.version === this.#sentVersion) return;
    this.#sentVersion = c.version;
    this.#nonce = this.#configs.nextNonce();
    this.#write(
      encodeSotwResponse(
        { version_info: c.version, type_url: TYPE_RATE_LIMIT_CONFIG, nonce: this.#nonce },
        c.chunks,
      ),
    );
    this.#configs.log.debug(
      { fleet: this.fleet, version: c.version, configs: c.names },
      'rate-limit configuration sent',
    );
  }

  info(): RateLimitServiceInfo {
    return {
      fleet: this.fleet,
      ...(this.#acked !== undefined ? { acked: this.#acked } : {}),
      ...(this.#lastNack !== undefined ? { lastNack: this.#lastNack } : {}),
      ...(this.#certificate.notAfter !== undefined
        ? { certificateNotAfter: this.#certificate.notAfter }
        : {}),
      ...(this.#certificate.notBefore !== undefined
        ? { certificateNotBefore: this.#certificate.notBefore }
        : {}),
    };
  }
}

/** The RateLimitConfig sets of the Global fleets and the streams of their rate-limit services. */
export class RateLimitConfigs {
  readonly log: Logger;
  readonly #byFleet = new Map<string, FleetConfigs>();
  readonly #streams = new Map<string, Set<RateLimitStream>>();
  #nonce = 0;
  #generation = 0;

  constructor(log: Logger) {
    this.log = log;
  }

  /**
   * Replaces a fleet's complete set (name → RateLimitConfig JSON). Encoded here: an invalid one
   * throws (naming it) and nothing changes. Returns whether the set changed.
   */
  set(fleet: string, configs: ReadonlyMap<string, object>): boolean {
    const names = [...configs.keys()].sort();
    const chunks = names.map((n) => {
      try {
        return sotwChunk(TYPE_RATE_LIMIT_CONFIG, encodeResource(TYPE_RATE_LIMIT_CONFIG, configs.get(n)!));
      } catch (err) {
        throw new Error(`rate-limit configuration ${n} of fleet ${fleet}: ${String(err)}`, { cause: err });
      }
    });
    const hash = createHash('sha256');
    for (const c of chunks) hash.update(c);
    const digest = hash.digest('hex');
    if (this.#byFleet.get(fleet)?.digest === digest) return false;
    this.#byFleet.set(fleet, { version: `rls-${++this.#generation}`, names, chunks, digest });
    for (const s of this.#streams.get(fleet) ?? []) s.pump();
    return true;
  }

  /** Forgets a fleet's set (its services keep what they have). */
  delete(fleet: string): void {
    this.#byFleet.delete(fleet);
  }

  current(fleet: string): FleetConfigs | undefined {
    return this.#byFleet.get(fleet);
  }

  /** The names of a fleet's current set (tests, status). */
  names(fleet: string): string[] {
    return [...(this.#byFleet.get(fleet)?.names ?? [])];
  }

  nextNonce(): string {
    return String(++this.#nonce);
  }

  /** A new stream of a fleet's rate-limit service. */
  open(fleet: string, write: (bytes: Buffer) => void, certificate: CertificateWindow = {}): RateLimitStream {
    const s = new RateLimitStream(fleet, this, write, certificate);
    let set = this.#streams.get(fleet);
    if (!set) {
      set = new Set();
      this.#streams.set(fleet, set);
    }
    set.add(s);
    this.log.info({ fleet, certificateNotAfter: certificate.notAfter }, 'rate-limit service connected');
    return s;
  }

  close(s: RateLimitStream): void {
    const set = this.#streams.get(s.fleet);
    if (!set?.delete(s)) return;
    if (set.size === 0) this.#streams.delete(s.fleet);
    this.log.info({ fleet: s.fleet }, 'rate-limit service disconnected');
  }

  connections(fleet?: string): RateLimitServiceInfo[] {
    const out: RateLimitServiceInfo[] = [];
    for (const [f, set] of this.#streams) {
      if (fleet === undefined || f === fleet) for (const s of set) out.push(s.info());
    }
    return out;
  }
}
