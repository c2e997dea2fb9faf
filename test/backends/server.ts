// In-process entry point for the test backends: startBackend() builds the handler for one
// kind, wraps it in the probe handler and serves it on one port for HTTP/1.1 and h2c.
import { listenDual, type Handler, type UpgradeHandler } from './dual-server.ts';
import { grpcPingHandler } from './grpc-ping.ts';
import { httpProxyBackend } from './httpproxy.ts';
import { withProbe } from './probe.ts';
import { retryHandler } from './retry.ts';
import { runtimeHandler } from './runtime.ts';
import { timeoutHandler } from './timeout.ts';
import { wsBackend } from './wsserver.ts';

export const BACKEND_KINDS = ['runtime', 'timeout', 'wsserver', 'grpc-ping', 'retry', 'httpproxy'] as const;
export type BackendKind = (typeof BACKEND_KINDS)[number];

export function isBackendKind(s: string): s is BackendKind {
  return (BACKEND_KINDS as readonly string[]).includes(s);
}

export interface BackendOptions {
  kind: BackendKind;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** Identifies the backend in replies (runtime JSON, ws echo, grpc reply). Default ''. */
  suffix?: string;
  /** httpproxy only: `host:port` of the gateway to forward to. */
  gateway?: string;
  /** httpproxy only: Host header to send to the gateway. */
  targetHost?: string;
  /** Where server-side errors go; default console.error (stderr). */
  onError?: (err: Error) => void;
}

export interface Backend {
  kind: BackendKind;
  address: string;
  port: number;
  /** Stops the backend: in-flight work gets up to graceMs (default 2000), then is cut. */
  close(graceMs?: number): Promise<void>;
}

interface Parts {
  handler: Handler;
  onUpgrade?: UpgradeHandler;
  beforeClose?: () => void;
}

function build(opts: BackendOptions): Parts {
  const suffix = opts.suffix ?? '';
  switch (opts.kind) {
    case 'runtime':
      return { handler: runtimeHandler(suffix) };
    case 'timeout':
      return { handler: timeoutHandler() };
    case 'retry':
      return { handler: retryHandler() };
    case 'grpc-ping':
      return { handler: grpcPingHandler(suffix) };
    case 'wsserver': {
      const ws = wsBackend(suffix);
      return { handler: ws.handler, onUpgrade: ws.onUpgrade, beforeClose: ws.close };
    }
    case 'httpproxy': {
      if (!opts.gateway || !opts.targetHost) throw new Error('httpproxy needs gateway and targetHost');
      const proxy = httpProxyBackend(opts.gateway, opts.targetHost);
      return { handler: proxy.handler, beforeClose: proxy.close };
    }
  }
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const parts = build(opts);
  const server = await listenDual({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 0,
    handler: withProbe(parts.handler),
    ...(parts.onUpgrade ? { onUpgrade: parts.onUpgrade } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  return {
    kind: opts.kind,
    address: server.address,
    port: server.port,
    close: async (graceMs?: number) => {
      parts.beforeClose?.();
      await server.close(graceMs);
    },
  };
}
