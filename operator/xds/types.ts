// Public data shapes of the xDS server: ACK/NACK events and the per-proxy connection report.
import type { TypeUrl } from './protos.ts';

export type StreamMode = 'sotw' | 'delta';

/**
 * The label of a response (its version_info / system_version_info): the type's snapshot set
 * version when the response holds exactly the snapshot, else `<set version>+<8 hex of a hash of
 * its entries>` (a named subscription's part of it, or retained resources beside it).
 */
export function responseLabel(setVersion: string, exact: boolean, entriesHash: string): string {
  return exact ? setVersion : `${setVersion}+${entriesHash.slice(0, 8)}`;
}

/** The snapshot set version a response label was built from (see responseLabel). */
export function setVersionOfLabel(label: string): string {
  const plus = label.indexOf('+');
  return plus < 0 ? label : label.slice(0, plus);
}

/** One ACK or NACK of a response, as reported by onAck / onNack. */
export interface AckEvent {
  fleet: string;
  nodeId: string;
  typeUrl: TypeUrl;
  /** version_info (SotW) / system_version_info (delta) of the answered response (responseLabel). */
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
