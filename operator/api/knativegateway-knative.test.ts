import { parse } from 'yaml';
import { fullSampleKnativeGateway, sampleKnativeGateway } from '../gen/sample.ts';
import { withGatewayDefaults, type KnativeGateway, type KnativeGatewaySpec } from './knativegateway.ts';
import {
  CONFIG_DOMAIN,
  CONFIG_NETWORK,
  desiredConfigDomain,
  desiredConfigNetwork,
  knativeConfigDrift,
} from './knativegateway-knative.ts';

function gw(spec: Omit<KnativeGatewaySpec, 'fleets'>): KnativeGateway {
  return { metadata: { name: 'g' }, spec: { fleets: [{ name: 'a', visibility: 'ExternalIP' }], ...spec } };
}

/** What Knative's config-domain parser does with a value: YAML into {selector: map[string]string}. */
function knativeSelector(value: string): Record<string, string> {
  const parsed = (parse(value) ?? {}) as { selector?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.selector ?? {})) {
    if (typeof v !== 'string') throw new Error(`${k}: ${typeof v} would not unmarshal into a string`);
    out[k] = v;
  }
  return out;
}

describe('desiredConfigNetwork', () => {
  test('a minimal gateway owns ingress-class and the Knative defaults', () => {
    expect(desiredConfigNetwork(sampleKnativeGateway())).toEqual({
      namespace: 'knative-serving',
      name: CONFIG_NETWORK,
      exclusive: false,
      data: {
        'ingress-class': 'kgw.ingress.networking.knative.dev',
        'http-protocol': 'Enabled',
        'external-domain-tls': 'Disabled',
        'autocreate-cluster-domain-claims': 'false',
      },
    });
  });

  test('every setting of the full sample, and domain-template only when set', () => {
    expect(desiredConfigNetwork(fullSampleKnativeGateway())).toEqual({
      namespace: 'knative-serving',
      name: CONFIG_NETWORK,
      exclusive: false,
      data: {
        'ingress-class': 'kgw.ingress.networking.knative.dev',
        'http-protocol': 'Redirected',
        'external-domain-tls': 'Enabled',
        'autocreate-cluster-domain-claims': 'true',
        'domain-template': '{{.Name}}-{{.Namespace}}.{{.Domain}}',
        'certificate-class': 'kgw.certificate.networking.knative.dev',
      },
    });
    expect(
      desiredConfigNetwork(gw({ ingressClass: 'other.example', knative: { namespace: 'serving' } })),
    ).toMatchObject({ namespace: 'serving', data: { 'ingress-class': 'other.example' } });
  });

  test('nothing when the gateway does not configure Knative; resolved specs work too', () => {
    expect(desiredConfigNetwork(gw({ knative: { configure: false } }))).toBeUndefined();
    const resolved = withGatewayDefaults(sampleKnativeGateway().spec);
    expect(desiredConfigNetwork(resolved)).toEqual(desiredConfigNetwork(sampleKnativeGateway()));
  });
});

describe('desiredConfigDomain', () => {
  test('default and selector domains, in the YAML Knative parses', () => {
    const cm = desiredConfigDomain(
      gw({
        domains: {
          default: 'example.com',
          selectors: [
            { domain: 'prod.example.com', selector: { app: 'prod' } },
            { domain: 'v2.staging.example.com', selector: { version: 'v2', app: 'staging', flag: 'true' } },
          ],
        },
      }),
    );
    expect(cm?.name).toBe(CONFIG_DOMAIN);
    expect(cm?.namespace).toBe('knative-serving');
    expect(cm?.exclusive).toBe(true);
    expect(cm?.data).toEqual({
      'example.com': '',
      'prod.example.com': 'selector:\n  "app": "prod"\n',
      'v2.staging.example.com': 'selector:\n  "app": "staging"\n  "flag": "true"\n  "version": "v2"\n',
    });
    // Values such as "true" stay strings (unquoted, YAML would read a boolean and Knative would fail).
    expect(knativeSelector(cm?.data['v2.staging.example.com'] ?? '')).toEqual({
      app: 'staging',
      flag: 'true',
      version: 'v2',
    });
    expect(knativeSelector(cm?.data['example.com'] ?? '')).toEqual({});
  });

  test('the full sample', () => {
    expect(desiredConfigDomain(fullSampleKnativeGateway())?.data).toEqual({
      'example.com': '',
      'internal.example.com': 'selector:\n  "example.com/audience": "internal"\n',
    });
  });

  test('nothing without a default domain (a template alone is config-network only) or without configure', () => {
    expect(desiredConfigDomain(sampleKnativeGateway())).toBeUndefined();
    expect(desiredConfigDomain(gw({ domains: { template: '{{.Name}}.{{.Domain}}' } }))).toBeUndefined();
    expect(
      desiredConfigDomain(gw({ domains: { default: 'example.com' }, knative: { configure: false } })),
    ).toBeUndefined();
  });
});

describe('knativeConfigDrift', () => {
  const network = desiredConfigNetwork(sampleKnativeGateway());
  const domain = desiredConfigDomain(gw({ domains: { default: 'example.com' } }));
  if (network === undefined || domain === undefined) throw new Error('no desired config');

  test('none when the ConfigMap holds the desired data (other config-network keys are not kgw’s)', () => {
    expect(knativeConfigDrift({ ...network.data, 'tag-template': '{{.Tag}}-{{.Name}}' }, network)).toEqual(
      [],
    );
  });

  test('missing and changed keys, sorted', () => {
    const actual: Record<string, string> = {
      ...network.data,
      'ingress-class': 'istio.ingress.networking.knative.dev',
    };
    delete actual['http-protocol'];
    expect(knativeConfigDrift(actual, network)).toEqual([
      { key: 'http-protocol', desired: 'Enabled' },
      {
        key: 'ingress-class',
        actual: 'istio.ingress.networking.knative.dev',
        desired: 'kgw.ingress.networking.knative.dev',
      },
    ]);
    expect(knativeConfigDrift(undefined, network)).toHaveLength(4);
  });

  test('foreign keys of config-domain are drift, _example is not', () => {
    expect(
      knativeConfigDrift({ 'example.com': '', 'other.example': '', _example: '# docs' }, domain),
    ).toEqual([{ key: 'other.example', actual: '' }]);
  });
});

test('auto-TLS: an external issuer sets external-domain-tls and kgw’s certificate class', () => {
  const cm = desiredConfigNetwork({
    metadata: { name: 'gw' },
    spec: {
      fleets: [{ name: 'a', visibility: 'ExternalIP' }],
      tls: { externalIssuer: { name: 'letsencrypt' } },
    },
  });
  expect(cm?.data).toMatchObject({
    'external-domain-tls': 'Enabled',
    'certificate-class': 'kgw.certificate.networking.knative.dev',
  });
  const off = desiredConfigNetwork({
    metadata: { name: 'gw' },
    spec: { fleets: [{ name: 'a', visibility: 'ExternalIP' }] },
  });
  expect(off?.data).not.toHaveProperty('certificate-class');
});
