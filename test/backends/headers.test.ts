import { canonicalHeaderKey } from './headers.ts';
import { isHttp2Preface } from './dual-server.ts';
import { parseHostPort } from './httpproxy.ts';
import { hostWithoutPort } from './http-client.ts';

describe('canonicalHeaderKey', () => {
  it.each([
    ['foo-bar-baz', 'Foo-Bar-Baz'],
    ['FOO-BAR', 'Foo-Bar'],
    ['k-network-hash', 'K-Network-Hash'],
    ['x-b3-traceid', 'X-B3-Traceid'],
    ['content-type', 'Content-Type'],
    ['a--b', 'A--B'],
    ['bad header', 'bad header'],
  ])('%s → %s', (input, want) => {
    expect(canonicalHeaderKey(input)).toBe(want);
  });
});

describe('isHttp2Preface', () => {
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
  it('needs more bytes for a partial preface', () => {
    expect(isHttp2Preface(preface.subarray(0, 5))).toBeNull();
  });
  it('recognises the full preface', () => {
    expect(isHttp2Preface(Buffer.concat([preface, Buffer.from([0, 0])]))).toBe(true);
  });
  it('rejects HTTP/1.1 as soon as a byte differs', () => {
    expect(isHttp2Preface(Buffer.from('GET / HTTP/1.1\r\n'))).toBe(false);
    expect(isHttp2Preface(Buffer.from('PRX'))).toBe(false);
  });
});

describe('host:port helpers', () => {
  it('parseHostPort', () => {
    expect(parseHostPort('198.19.0.1:8080')).toEqual({ host: '198.19.0.1', port: 8080 });
    expect(parseHostPort('gw.example')).toEqual({ host: 'gw.example', port: 80 });
    expect(parseHostPort('[fd00::1]:81')).toEqual({ host: 'fd00::1', port: 81 });
    expect(() => parseHostPort('a:99999')).toThrow(/port/);
  });
  it('hostWithoutPort', () => {
    expect(hostWithoutPort('foo.example.com:80')).toBe('foo.example.com');
    expect(hostWithoutPort('foo.example.com')).toBe('foo.example.com');
    expect(hostWithoutPort('[::1]:443')).toBe('::1');
  });
});
