import type { EndpointSlice } from '../api/core.ts';
import type { ClusterIR } from './ir.ts';
import { endpointAddresses, usableAddress } from './endpoint-addresses.ts';

const cluster: ClusterIR = {
  name: 'apps/web:80',
  kind: 'eds',
  http2: false,
  endpoints: { namespace: 'apps', service: 'web', port: { name: 'http', targetPort: 8080 } },
};

function slice(
  addressType: string,
  addresses: unknown[],
  ports: unknown = [{ name: 'http', port: 8080 }],
): EndpointSlice {
  // a hand-written slice of a selector-less Service: any JSON may be in it
  return {
    metadata: { name: 's', namespace: 'apps' },
    addressType,
    ports,
    endpoints: [{ addresses }],
  } as unknown as EndpointSlice;
}

describe('EndpointSlice addresses written by a tenant', () => {
  test.each([
    ['127.0.0.1', 'IPv4'],
    ['127.9.9.9', 'IPv4'],
    ['0.0.0.0', 'IPv4'],
    ['169.254.169.254', 'IPv4'],
    ['224.0.0.1', 'IPv4'],
    ['255.255.255.255', 'IPv4'],
    ['localhost', 'IPv4'],
    ['198.18.0.1 ', 'IPv4'],
    ['::1', 'IPv6'],
    ['::', 'IPv6'],
    ['fe80::1', 'IPv6'],
    ['ff02::1', 'IPv6'],
    ['::ffff:127.0.0.1', 'IPv6'],
    ['::ffff:169.254.169.254', 'IPv6'],
    ['198.18.0.1', 'IPv6'],
  ] as const)('%s (%s) is never an upstream', (address, family) => {
    expect(usableAddress(address, family)).toBe(false);
    expect(endpointAddresses([slice(family, [address])], cluster)).toEqual([]);
  });

  test('ordinary addresses are kept, bad values around them skipped', () => {
    expect(usableAddress('198.18.3.4', 'IPv4')).toBe(true);
    expect(usableAddress('2001:db8::1', 'IPv6')).toBe(true);
    expect(usableAddress('::ffff:198.18.3.4', 'IPv6')).toBe(true);
    const got = endpointAddresses(
      [slice('IPv4', ['198.18.3.5', 42, null, '127.0.0.1', '198.18.3.4']), slice('FQDN', ['example.com'])],
      cluster,
    );
    expect(got).toEqual([
      { address: '198.18.3.4', port: 8080 },
      { address: '198.18.3.5', port: 8080 },
    ]);
  });

  test.each([[0], [70000], [-1], [8080.5], ['8080']])('port %p skips the slice', (port) => {
    expect(endpointAddresses([slice('IPv4', ['198.18.3.4'], [{ name: 'http', port }])], cluster)).toEqual([]);
  });

  test('malformed ports and endpoints lists do not throw', () => {
    const odd = {
      metadata: { name: 's' },
      addressType: 'IPv4',
      ports: 'x',
      endpoints: [null, 'x', { addresses: 'x' }],
    };
    expect(endpointAddresses([odd as unknown as EndpointSlice], cluster)).toEqual([
      // no named port: the Service's numeric targetPort, but there is no usable address
    ]);
  });
});
