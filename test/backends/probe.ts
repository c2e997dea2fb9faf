// Knative's network probe contract, wrapped around every backend handler: a request with
// `K-Network-Probe: probe` is answered 200 with its `K-Network-Hash` echoed (400 when that is
// empty); any other request loses its `K-Network-Hash` header and goes on to the backend.
import type { Handler, Req } from './dual-server.ts';
import { firstHeader } from './headers.ts';

export const PROBE_HEADER = 'K-Network-Probe';
export const HASH_HEADER = 'K-Network-Hash';
export const PROBE_VALUE = 'probe';

export type ProbeVerdict = { kind: 'pass' } | { kind: 'answer'; status: 200 | 400; hash: string };

/** What the probe handler does with a request (also used on raw upgrade sockets). */
export function probeVerdict(req: Req): ProbeVerdict {
  if (firstHeader(req, PROBE_HEADER) !== PROBE_VALUE) return { kind: 'pass' };
  const hash = firstHeader(req, HASH_HEADER) ?? '';
  return { kind: 'answer', status: hash === '' ? 400 : 200, hash };
}

export function withProbe(next: Handler): Handler {
  return (req, res) => {
    const v = probeVerdict(req);
    if (v.kind === 'pass') {
      delete req.headers[HASH_HEADER.toLowerCase()];
      next(req, res);
      return;
    }
    if (v.status === 400) {
      res.statusCode = 400;
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
      res.end(`probe: header ${HASH_HEADER} must be set\n`);
      return;
    }
    res.statusCode = 200;
    res.setHeader(HASH_HEADER, v.hash);
    res.end();
  };
}
