// A test OpenTelemetry collector: an OTLP/gRPC TraceService that keeps every span it is sent, in
// a flat form the tracing tests can assert on. The schema subset is otlp-trace.proto.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const root = protobuf.loadSync(fileURLToPath(new URL('./otlp-trace.proto', import.meta.url)));
const PACKAGE = 'opentelemetry.proto.collector.trace.v1';
const Request = root.lookupType(`${PACKAGE}.ExportTraceServiceRequest`);
const Response = root.lookupType(`${PACKAGE}.ExportTraceServiceResponse`);

export interface CollectedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  attributes: Record<string, string>;
  resource: Record<string, string>;
}

interface KeyValue {
  key?: string;
  value?: { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number };
}

function attributes(kvs: KeyValue[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs ?? []) {
    const v = kv.value ?? {};
    out[kv.key ?? ''] = String(v.stringValue ?? v.boolValue ?? v.intValue ?? v.doubleValue ?? '');
  }
  return out;
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      spans?: {
        name?: string;
        traceId?: string;
        spanId?: string;
        parentSpanId?: string;
        kind?: number;
        attributes?: KeyValue[];
      }[];
    }[];
  }[];
}

/** Spans of one Export request, flattened. */
export function flattenSpans(buf: Buffer): CollectedSpan[] {
  // bytes as hex, int64 as decimal strings
  const req = Request.toObject(Request.decode(buf), { bytes: String, longs: String }) as ExportRequest;
  const hex = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('hex');
  return (req.resourceSpans ?? []).flatMap((rs) => {
    const resource = attributes(rs.resource?.attributes);
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        name: s.name ?? '',
        traceId: hex(s.traceId),
        spanId: hex(s.spanId),
        parentSpanId: hex(s.parentSpanId),
        kind: s.kind ?? 0,
        attributes: attributes(s.attributes),
        resource,
      })),
    );
  });
}

export interface OtlpCollector {
  port: number;
  spans: CollectedSpan[];
  stop(): Promise<void>;
}

/** Listens on `host` (port chosen by the system). */
export async function startOtlpCollector(host: string): Promise<OtlpCollector> {
  const spans: CollectedSpan[] = [];
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    Export: {
      path: `/${PACKAGE}.TraceService/Export`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.from(Response.encode(Response.create({})).finish()),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(definition, {
    Export: (call: grpc.ServerUnaryCall<Buffer, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      spans.push(...flattenSpans(call.request));
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    spans,
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}
