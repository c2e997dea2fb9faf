// Public data shapes of the xDS server: ACK/NACK events and the per-proxy connection report.
import type { TypeUrl } from './protos.ts';

export type StreamMode = 'sotw' | 'delta';

/** One ACK or NACK of a response, as reported by onAck / onNack. */
export interface AckEvent {
  fleet: string;
  nodeId: string;
  typeUrl: TypeUrl;
  /** version_info (SotW) / system_version_info (delta) of the answered response. */
  version: string;
  nonce: string;
  /** Resources carried by the answered response. */
  resourceNames: string[];
  /** Delta only: names the answered response removed. */
  removed?: string[];
  /** NACK only: error_detail.message from Envoy. */
  error?: string;
}

export interface NackInfo {
  typeUrl: TypeUrl;
  version: string;
  nonce: string;
  error: string;
  resourceNames: string[];
  at: Date;
}

/** A connected Envoy (one ADS stream). */
export interface ProxyInfo {
  nodeId: string;
  fleet: string;
  mode: StreamMode;
  userAgent: string;
  connectedAt: Date;
  /** Last ACKed version per type. */
  acked: Partial<Record<TypeUrl, string>>;
  lastNack?: NackInfo;
}

export interface XdsStats {
  /** Bytes of encoded responses per type. */
  bytesSent: Record<TypeUrl, number>;
  /** Resources carried by responses per type (a SotW response counts every resource it repeats). */
  resourcesSent: Record<TypeUrl, number>;
  responses: number;
}
