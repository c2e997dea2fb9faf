import { isCidr } from './cel-cidr.ts';

test.each([
  '203.0.113.0/24',
  '198.51.100.7/32',
  '198.51.100.7/24', // host bits set: still a CIDR to isCIDR
  '0.0.0.0/0',
  '2001:db8::/32',
  '2001:DB8::/128',
  '1:2:3:4:5:6:7:8/64',
  '::/0',
  '::1.2.3.4/128',
  '::ffff:1/128', // not IPv4-mapped: the last group only
])('%s is a CIDR', (s) => {
  expect(isCidr(s)).toBe(true);
});

test.each([
  '198.51.100.7/33',
  '2001:db8::/129',
  '198.51.100.7',
  '10.0.0.0/08',
  '10.0.0.0/ 8',
  '010.0.0.0/8',
  '10.0.0.0/8/8',
  'fe80::1%eth0/64',
  'example.com/8',
  '::ffff:192.0.2.0/120',
  '0:0:0:0:0:FFFF:c000:0200/128',
  '::ffff:0:0/96',
  '',
])('%s is not a CIDR', (s) => {
  expect(isCidr(s)).toBe(false);
});
