// `grpc-ping` backend: PingService (ping.proto) implemented directly on the shared HTTP/2
// handler with gRPC framing, so gRPC, the probe contract and kubelet probes share one port.
// Ping replies with msg + suffix; PingStream replies to every message as it arrives. Non-gRPC
// requests (HTTP/1.1, or another content-type) get 200 from the kubelet, 415 from anyone else.
import { flushHeaders, writeChunk, type Handler, type Res } from './dual-server.ts';
import {
  FrameDecoder,
  PING_PATH,
  PING_STREAM_PATH,
  decodeRequest,
  encodeResponse,
  frame,
  type GrpcMessage,
} from './grpc-codec.ts';
import { firstHeader, isKubeletProbe, requestPath } from './headers.ts';

const OK = 0;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const INTERNAL = 13;

/** Ends the call with a gRPC status: in trailers, or trailers-only when nothing was sent. */
function finish(res: Res, code: number, message: string): void {
  const status = { 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) };
  if (res.headersSent) res.addTrailers(status);
  else for (const [k, v] of Object.entries(status)) res.setHeader(k, v);
  res.end();
}

export function grpcPingHandler(suffix: string): Handler {
  return (req, res) => {
    const contentType = firstHeader(req, 'content-type') ?? '';
    if (req.httpVersionMajor !== 2 || !contentType.startsWith('application/grpc')) {
      req.resume();
      const ok = isKubeletProbe(req);
      res.statusCode = ok ? 200 : 415;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(ok ? 'ok\n' : 'grpc-ping: only gRPC (HTTP/2, application/grpc) is served\n');
      return;
    }
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/grpc');
    const path = requestPath(req);
    if (req.method !== 'POST' || (path !== PING_PATH && path !== PING_STREAM_PATH)) {
      req.resume();
      finish(res, UNIMPLEMENTED, `unknown method ${path}`);
      return;
    }
    const unary = path === PING_PATH;
    const decoder = new FrameDecoder();
    let count = 0;
    let done = false;
    let unaryReply: Buffer | undefined;
    const fail = (code: number, message: string): void => {
      done = true;
      finish(res, code, message);
    };
    const onMessage = (m: GrpcMessage): void => {
      if (m.compressed) return fail(UNIMPLEMENTED, 'compressed messages are not supported');
      if (unary && ++count > 1) return fail(INTERNAL, 'unary call with more than one request message');
      if (!unary) count++;
      let text: string;
      try {
        text = decodeRequest(m.payload);
      } catch {
        return fail(INTERNAL, 'cannot decode request message');
      }
      const reply = frame(encodeResponse(text + suffix));
      if (unary) unaryReply = reply;
      else writeChunk(res, reply);
    };
    if (!unary) flushHeaders(res);
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      let messages: GrpcMessage[];
      try {
        messages = decoder.push(chunk);
      } catch (err) {
        return fail(RESOURCE_EXHAUSTED, (err as Error).message);
      }
      for (const m of messages) {
        onMessage(m);
        if (done) return;
      }
    });
    req.on('end', () => {
      if (done) return;
      if (decoder.pending > 0) return fail(INTERNAL, 'truncated request message');
      if (unary) {
        if (unaryReply === undefined) return fail(INTERNAL, 'unary call without a request message');
        writeChunk(res, unaryReply);
      }
      done = true;
      finish(res, OK, '');
    });
  };
}
