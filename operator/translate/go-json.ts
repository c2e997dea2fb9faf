// Serialises a KIngress spec the way Go's encoding/json would serialise knative's IngressSpec
// struct: struct field order, omitempty rules, sorted map keys, HTML-safe escaping. The probe hash
// (and therefore Knative's headers/probe conformance test) depends on this being bit-exact.
import type {
  HTTPIngressPath,
  IngressBackendSplit,
  IngressRule,
  IngressSpec,
  IngressTLS,
} from '../api/kingress.ts';
import { byCodePoint } from '../order.ts';

/** Characters that need escaping (or Unicode care) in Go's encoding; anything else is copied. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f<>&\u2028\u2029\ud800-\udfff]/;

/** Go's json string encoding: like JSON.stringify plus \u003c \u003e \u0026 \u2028 \u2029. */
export function goString(s: string): string {
  // Fast path: host names, paths, header names and values are almost always plain.
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => {
    return '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0');
  });
}

type Field = [key: string, value: string | undefined];

/** Field names are constants: quote each once. */
const quotedKeys = new Map<string, string>();

function obj(fields: Field[]): string {
  let out = '';
  for (const [k, v] of fields) {
    if (v === undefined) continue;
    let q = quotedKeys.get(k);
    if (q === undefined) {
      q = goString(k);
      quotedKeys.set(k, q);
    }
    out += out === '' ? `${q}:${v}` : `,${q}:${v}`;
  }
  return `{${out}}`;
}

/** omitempty string */
function optString(s: string | undefined): string | undefined {
  return s === undefined || s === '' ? undefined : goString(s);
}

/** omitempty []string (nil and empty both omitted) */
function optStrings(list: string[] | undefined): string | undefined {
  return list && list.length > 0 ? `[${list.map(goString).join(',')}]` : undefined;
}

function sortedKeys(m: Record<string, unknown>): string[] {
  // Go sorts map keys by their UTF-8 bytes; for ASCII header names this equals code-unit order.
  return Object.keys(m).sort(byCodePoint);
}

/** omitempty map[string]string */
function optStringMap(m: Record<string, string> | undefined): string | undefined {
  if (!m || Object.keys(m).length === 0) return undefined;
  return `{${sortedKeys(m)
    .map((k) => `${goString(k)}:${goString(m[k] ?? '')}`)
    .join(',')}}`;
}

function intOrString(v: number | string): string {
  return typeof v === 'number' ? String(Math.trunc(v)) : goString(v);
}

function split(s: IngressBackendSplit): string {
  return obj([
    ['serviceNamespace', goString(s.serviceNamespace ?? '')],
    ['serviceName', goString(s.serviceName ?? '')],
    ['servicePort', intOrString(s.servicePort ?? 0)],
    ['percent', s.percent ? String(Math.trunc(s.percent)) : undefined],
    ['appendHeaders', optStringMap(s.appendHeaders)],
  ]);
}

function path(p: HTTPIngressPath): string {
  const headers =
    p.headers && Object.keys(p.headers).length > 0
      ? `{${sortedKeys(p.headers)
          .map((k) => `${goString(k)}:${obj([['exact', goString(p.headers?.[k]?.exact ?? '')]])}`)
          .join(',')}}`
      : undefined;
  return obj([
    ['path', optString(p.path)],
    ['rewriteHost', optString(p.rewriteHost)],
    ['headers', headers],
    // `splits` has no omitempty: a nil slice encodes as null.
    ['splits', p.splits ? `[${p.splits.map(split).join(',')}]` : 'null'],
    ['appendHeaders', optStringMap(p.appendHeaders)],
  ]);
}

function rule(r: IngressRule): string {
  const http = r.http
    ? obj([['paths', r.http.paths ? `[${r.http.paths.map(path).join(',')}]` : 'null']])
    : undefined;
  return obj([
    ['hosts', optStrings(r.hosts)],
    ['visibility', optString(r.visibility)],
    ['http', http],
  ]);
}

function tls(t: IngressTLS): string {
  return obj([
    ['hosts', optStrings(t.hosts)],
    ['secretName', optString(t.secretName)],
    ['secretNamespace', optString(t.secretNamespace)],
  ]);
}

export function goJsonIngressSpec(spec: IngressSpec): string {
  return obj([
    ['tls', spec.tls && spec.tls.length > 0 ? `[${spec.tls.map(tls).join(',')}]` : undefined],
    ['rules', spec.rules && spec.rules.length > 0 ? `[${spec.rules.map(rule).join(',')}]` : undefined],
    ['httpOption', optString(spec.httpOption)],
  ]);
}
