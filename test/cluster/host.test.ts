// The pure parts of the cluster's host bookkeeping: iptables-save rule splitting (what teardown
// turns into `iptables -D` argv), the state-dir guard (teardown kills and unmounts by that dir)
// and the image references `ctr images import` reports.
import { importedRefs } from './cluster.ts';
import { assertSafeDir, splitRule } from './host.ts';

describe('cluster host helpers', () => {
  it('splits iptables-save rules with quoted comments', () => {
    expect(
      splitRule(
        '-A POSTROUTING -s 198.19.0.2/32 -m comment --comment "name: \\"kgw-cluster\\" id: \\"abc\\"" -j CNI-0f1e',
      ),
    ).toEqual([
      '-A',
      'POSTROUTING',
      '-s',
      '198.19.0.2/32',
      '-m',
      'comment',
      '--comment',
      'name: "kgw-cluster" id: "abc"',
      '-j',
      'CNI-0f1e',
    ]);
    expect(splitRule('-A INPUT -m comment --comment "" -j KUBE-FIREWALL')).toEqual([
      '-A',
      'INPUT',
      '-m',
      'comment',
      '--comment',
      '',
      '-j',
      'KUBE-FIREWALL',
    ]);
  });

  it('accepts only dedicated state dirs', () => {
    expect(() => assertSafeDir('/tmp/kgw-cluster-abc')).not.toThrow();
    for (const bad of ['/', '/tmp', '/tmp/', '/var/lib', 'relative/dir', '/tmp/../etc']) {
      expect(() => assertSafeDir(bad)).toThrow(/dedicated absolute dir/);
    }
  });

  it('reads the references ctr images import reports', () => {
    expect(
      importedRefs(
        'unpacking localhost/kgw-test/pause:1 (sha256:0123)...done\nunpacking registry.k8s.io/coredns/coredns:v1.15.0 (sha256:4567)...done\n',
      ),
    ).toEqual(['localhost/kgw-test/pause:1', 'registry.k8s.io/coredns/coredns:v1.15.0']);
  });
});
