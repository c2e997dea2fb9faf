import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { operatorFrameworkApiVersion, operatorFrameworkCrd } from './olm-api.ts';

describe('operatorFrameworkCrd', () => {
  it('finds the ClusterServiceVersion CRD of the pinned operator-framework/api', () => {
    const path = operatorFrameworkCrd('operators.coreos.com_clusterserviceversions.yaml');
    expect(path).toContain(`@${operatorFrameworkApiVersion()}/`);
    const crd = parse(readFileSync(path, 'utf8')) as { kind: string; metadata: { name: string } };
    expect([crd.kind, crd.metadata.name]).toEqual([
      'CustomResourceDefinition',
      'clusterserviceversions.operators.coreos.com',
    ]);
  }, 300_000);

  it('names a file the module does not have', () => {
    expect(() => operatorFrameworkCrd('nope.yaml')).toThrow(/has no crds\/nope\.yaml/);
  }, 300_000);
});
