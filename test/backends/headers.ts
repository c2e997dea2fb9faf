// Request-header helpers shared by the backends: first/all values of a header (from the raw
// header lines, so repeated headers keep every value) and a Go-style header map.
import type { Req } from './dual-server.ts';

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Go's textproto.CanonicalMIMEHeaderKey: the first letter and every letter after a hyphen in
 * upper case, all others in lower case (`foo-BAR-baz` → `Foo-Bar-Baz`); names containing
 * characters outside the HTTP token set are returned unchanged.
 */
export function canonicalHeaderKey(name: string): string {
  if (!TOKEN.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());
}

/** Every value of a request header, in arrival order (one entry per header line). */
export function headerValues(req: Req, name: string): string[] {
  const want = name.toLowerCase();
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === want) out.push(raw[i + 1]!);
  }
  return out;
}

export function firstHeader(req: Req, name: string): string | undefined {
  return headerValues(req, name)[0];
}

/**
 * The request headers as Go's net/http shows them to a handler: canonical names, one array
 * entry per header line, without Host and HTTP/2 pseudo-headers, and without headers that an
 * earlier handler deleted from `req.headers` (the probe handler deletes `K-Network-Hash`).
 */
export function goHeaders(req: Req): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (lower.startsWith(':') || lower === 'host' || !(lower in req.headers)) continue;
    const key = canonicalHeaderKey(name);
    (out[key] ??= []).push(raw[i + 1]!);
  }
  return out;
}

/** `User-Agent` starts with `kube-probe/` (the kubelet). */
export function isKubeletProbe(req: Req): boolean {
  return (firstHeader(req, 'user-agent') ?? '').startsWith('kube-probe/');
}

/** Path of the request URL without the query string. */
export function requestPath(req: Req): string {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}
