import { withGatewayDefaults, type KnativeGatewaySpec } from '../api/knativegateway.ts';
import type { Visibility } from '../api/kingress.ts';
import {
  claimRefs,
  compileDomainTemplate,
  gatewayHostPolicy,
  hostDecision,
  hostRefs,
  templateNamespaces,
  type HostContext,
  type HostPolicy,
} from './host-ownership.ts';
import { hostOwnersFromObjects } from './lookups.ts';

const fleets = [{ name: 'ext', visibility: 'ExternalIP' as const }];
const policy = (spec: Partial<KnativeGatewaySpec> = {}): HostPolicy =>
  gatewayHostPolicy('gw', withGatewayDefaults({ fleets, ...spec }));

const withDomains = policy({
  domains: { default: 'example.com', selectors: [{ domain: 'internal.example.org', selector: { a: 'b' } }] },
});
const owners = hostOwnersFromObjects(
  [
    { metadata: { name: 'shop.example.net' }, spec: { namespace: 'x' } },
    { metadata: { name: 'mine.example.net' }, spec: { namespace: 'y' } },
    { metadata: { name: 'deep.wild.example.net' }, spec: { namespace: 'x' } },
    { metadata: { name: 'free.example.net' }, spec: {} },
  ],
  [{ metadata: { name: 'x' } }, { metadata: { name: 'y', labels: { tenant: 'true' } } }],
);

function decide(
  host: string,
  namespace: string,
  o: { visibility?: Visibility; policy?: HostPolicy; clusterDomain?: string } = {},
) {
  const ctx: HostContext = {
    namespace,
    visibility: o.visibility ?? 'ExternalIP',
    clusterDomain: o.clusterDomain ?? 'cluster.local',
    owners,
    ...(o.policy ? { policy: o.policy } : {}),
  };
  const d = hostDecision(host, ctx);
  return d.allowed ? d.kind : 'refused';
}

describe('generated names: only their own namespace may serve them', () => {
  test.each([
    // [host, namespace, visibility, expected]
    ['app.victim.svc.cluster.local', 'victim', 'ClusterLocal', 'generated'],
    ['app.victim.svc.cluster.local', 'attacker', 'ClusterLocal', 'refused'],
    ['app.victim.svc.cluster.local', 'attacker', 'ExternalIP', 'refused'],
    ['app.victim.svc', 'victim', 'ClusterLocal', 'generated'],
    ['app.victim.svc', 'attacker', 'ClusterLocal', 'refused'],
    ['app.victim', 'victim', 'ClusterLocal', 'generated'],
    ['app.victim', 'attacker', 'ClusterLocal', 'refused'],
    // the two-label short form exists only on ClusterLocal rules: elsewhere it is a custom host
    ['app.victim', 'attacker', 'ExternalIP', 'custom'],
    ['example.com', 'attacker', 'ExternalIP', 'custom'],
    // below a generated name is still that namespace's
    ['a.b.victim.svc.cluster.local', 'attacker', 'ClusterLocal', 'refused'],
    ['a.b.victim.svc.cluster.local', 'victim', 'ClusterLocal', 'generated'],
    // not Knative's shapes
    ['victim.svc.cluster.local', 'attacker', 'ClusterLocal', 'custom'],
    ['x.y.pod.cluster.local', 'attacker', 'ExternalIP', 'custom'],
  ] as const)('%s in %s (%s): %s', (host, ns, visibility, want) => {
    expect(decide(host, ns, { visibility })).toBe(want);
    expect(decide(host, ns, { visibility, policy: withDomains })).toBe(want);
  });

  test('another cluster domain', () => {
    expect(decide('app.victim.svc.corp.internal', 'attacker', { clusterDomain: 'corp.internal' })).toBe(
      'refused',
    );
    expect(decide('app.victim.svc.corp.internal', 'victim', { clusterDomain: 'corp.internal' })).toBe(
      'generated',
    );
    // under another cluster domain it is nobody's generated name
    expect(decide('app.victim.svc.cluster.local', 'attacker', { clusterDomain: 'corp.internal' })).toBe(
      'custom',
    );
  });

  test.each([
    // default template {{.Name}}.{{.Namespace}}.{{.Domain}}, domains example.com and internal.example.org
    ['app.victim.example.com', 'victim', 'generated'],
    ['app.victim.example.com', 'attacker', 'refused'],
    ['APP.Victim.example.com.', 'attacker', 'refused'],
    ['app.victim.internal.example.org', 'attacker', 'refused'],
    ['app.victim.internal.example.org', 'victim', 'generated'],
    // tag routes: Name is `<tag>-<route>`
    ['v2-app.victim.example.com', 'attacker', 'refused'],
    ['v2-app.victim.example.com', 'victim', 'generated'],
    // one label before the domain is nobody's generated name
    ['victim.example.com', 'attacker', 'custom'],
    // not under a gateway domain
    ['app.victim.example.net', 'attacker', 'custom'],
    ['app.victim.notexample.com', 'attacker', 'custom'],
  ] as const)('default template: %s in %s: %s', (host, ns, want) => {
    expect(decide(host, ns, { policy: withDomains })).toBe(want);
  });

  test('without gateway domains there are no template names, only cluster-local ones', () => {
    expect(decide('app.victim.example.com', 'attacker')).toBe('custom');
    expect(decide('app.victim.example.com', 'attacker', { policy: policy() })).toBe('custom');
  });

  test.each([
    ['{{.Name}}-{{.Namespace}}.{{.Domain}}', 'app-victim.example.com', 'victim', 'generated'],
    ['{{.Name}}-{{.Namespace}}.{{.Domain}}', 'app-victim.example.com', 'attacker', 'refused'],
    // ambiguous: `a-b-c` is name a-b in namespace c, or name a in namespace b-c: both may serve it
    ['{{.Name}}-{{.Namespace}}.{{.Domain}}', 'a-b-c.example.com', 'c', 'generated'],
    ['{{.Name}}-{{.Namespace}}.{{.Domain}}', 'a-b-c.example.com', 'b-c', 'generated'],
    ['{{.Name}}-{{.Namespace}}.{{.Domain}}', 'a-b-c.example.com', 'attacker', 'refused'],
    ['{{ .Namespace }}.{{- .Name -}}.apps.{{.Domain}}', 'victim.app.apps.example.com', 'attacker', 'refused'],
    ['{{ .Namespace }}.{{- .Name -}}.apps.{{.Domain}}', 'victim.app.apps.example.com', 'victim', 'generated'],
    // annotation values (any host characters, possibly none)
    [
      '{{.Name}}.{{index .Annotations "env"}}.{{.Namespace}}.{{.Domain}}',
      'a.prod.victim.example.com',
      'attacker',
      'refused',
    ],
    [
      '{{.Name}}{{.Annotations.sfx}}.{{.Namespace}}.{{.Domain}}',
      'a.victim.example.com',
      'attacker',
      'refused',
    ],
    [
      '{{.Name}}.{{.Labels.team}}.{{.Namespace}}.{{.Domain}}',
      'a.t.victim.example.com',
      'victim',
      'generated',
    ],
    // no {{.Namespace}}: names of no particular namespace, so custom hosts
    ['{{.Name}}.{{.Domain}}', 'app.example.com', 'attacker', 'custom'],
    ['{{.Name}}.{{.Domain}}', 'app.victim.example.com', 'attacker', 'custom'],
    // a construct kgw does not follow: the template's names are unknown (custom hosts)
    [
      '{{if .Name}}{{.Name}}{{end}}.{{.Namespace}}.{{.Domain}}',
      'app.victim.example.com',
      'attacker',
      'custom',
    ],
    ['{{printf "%s" .Name}}.{{.Namespace}}.{{.Domain}}', 'app.victim.example.com', 'attacker', 'custom'],
  ] as const)('template %s: %s in %s: %s', (template, host, ns, want) => {
    expect(decide(host, ns, { policy: policy({ domains: { default: 'example.com', template } }) })).toBe(
      want,
    );
  });
});

describe('custom hosts: ClusterDomainClaims and the gateway claim rules', () => {
  test('a claim of another namespace refuses; one of the own namespace or none allows', () => {
    expect(decide('shop.example.net', 'y')).toBe('refused');
    expect(decide('shop.example.net', 'x')).toBe('custom');
    expect(decide('other.example.net', 'y')).toBe('custom');
    // a claim without spec.namespace gives the domain to nobody
    expect(decide('free.example.net', 'y')).toBe('custom');
  });

  const rules = policy({
    domainClaims: {
      rules: [
        { domains: ['example.net'], namespaceSelector: { matchLabels: { tenant: 'true' } } },
        { domains: ['open.example.org'] },
      ],
    },
  });
  test.each([
    ['mine.example.net', 'y', 'custom'], // claimed by y, and y has the label
    ['new.example.net', 'y', 'custom'],
    ['new.example.net', 'x', 'refused'], // x lacks the label
    ['new.example.net', 'unknown', 'refused'], // labels not known: judged as none
    ['a.open.example.org', 'x', 'custom'],
    ['elsewhere.io', 'y', 'refused'], // no rule covers it
    ['shop.example.net', 'y', 'refused'], // claimed by x
    // generated names are decided by namespace alone
    ['app.y.svc.cluster.local', 'y', 'generated'],
  ] as const)('rules set: %s in %s: %s', (host, ns, want) => {
    expect(decide(host, ns, { policy: rules })).toBe(want);
  });

  test('a claim does not give another namespace generated names', () => {
    const o = hostOwnersFromObjects(
      [{ metadata: { name: 'app.victim.example.com' }, spec: { namespace: 'attacker' } }],
      [],
    );
    const d = hostDecision('app.victim.example.com', {
      namespace: 'attacker',
      visibility: 'ExternalIP',
      clusterDomain: 'cluster.local',
      policy: withDomains,
      owners: o,
    });
    expect(d.allowed).toBe(false);
  });
});

describe('wildcard hosts', () => {
  test.each([
    // inside the namespace's own names
    ['*.victim.example.com', 'victim', 'generated'],
    ['*.deep.victim.example.com', 'victim', 'generated'],
    ['*.victim.svc.cluster.local', 'victim', 'generated'],
    // another namespace's names, or spanning every namespace's
    ['*.victim.example.com', 'attacker', 'refused'],
    ['*.example.com', 'attacker', 'refused'],
    ['*.com', 'attacker', 'refused'],
    ['*.svc.cluster.local', 'attacker', 'refused'],
    ['*.cluster.local', 'attacker', 'refused'],
    ['*.svc', 'attacker', 'refused'],
    // custom: claims below the wildcard count
    ['*.example.net', 'x', 'refused'], // mine.example.net below it is y's
    ['*.wild.example.net', 'x', 'custom'],
    ['*.wild.example.net', 'y', 'refused'],
    ['*.other.io', 'y', 'custom'],
  ] as const)('%s in %s: %s', (host, ns, want) => {
    expect(decide(host, ns, { policy: withDomains })).toBe(want);
  });

  test('ClusterLocal wildcards over a short form', () => {
    expect(decide('*.victim', 'attacker', { visibility: 'ClusterLocal' })).toBe('refused');
    expect(decide('*.victim', 'victim', { visibility: 'ClusterLocal' })).toBe('generated');
  });

  test('a template without {{.Namespace}} leaves wildcards under its domain to claims and rules', () => {
    const p = policy({ domains: { default: 'example.com', template: '{{.Name}}.{{.Domain}}' } });
    expect(decide('*.example.com', 'attacker', { policy: p })).toBe('custom');
  });
});

describe('messages say how to fix it and never name another namespace', () => {
  const msg = (host: string, ns: string, p: HostPolicy | undefined, vis: Visibility = 'ExternalIP') => {
    const d = hostDecision(host, {
      namespace: ns,
      visibility: vis,
      clusterDomain: 'cluster.local',
      owners,
      ...(p ? { policy: p } : {}),
    });
    if (d.allowed) throw new Error(`${host} allowed`);
    return d.message;
  };

  test('generated name of another namespace', () => {
    const m = msg('app.victim.example.com', 'attacker', withDomains);
    expect(m).toBe(
      "host app.victim.example.com is a name Knative generates for another namespace's Routes, so a " +
        "KIngress in namespace attacker may not serve it; use your namespace's own names " +
        '(<name>.attacker.example.com, <name>.attacker.svc.cluster.local) or a custom domain a cluster ' +
        'admin gives to namespace attacker with a ClusterDomainClaim',
    );
  });

  test('claimed by another namespace', () => {
    const m = msg('shop.example.net', 'y', undefined);
    expect(m).toContain('is claimed by another namespace');
    expect(m).not.toMatch(/\bx\b/);
  });

  test('claim rules', () => {
    const p = policy({ domainClaims: { rules: [{ domains: ['example.org'] }] } });
    expect(msg('a.example.net', 'y', p)).toBe(
      "host a.example.net is not allowed: domain a.example.net is not allowed by KnativeGateway gw's " +
        'domainClaims policy (allowed suffixes: example.org); a cluster admin can allow it in ' +
        "KnativeGateway gw's spec.domainClaims.rules, or use your namespace's own names " +
        '(<name>.y.svc.cluster.local) or a custom domain a cluster admin gives to namespace y with a ' +
        'ClusterDomainClaim',
    );
  });

  test('wildcards', () => {
    expect(msg('*.example.com', 'attacker', withDomains)).toContain(
      'covers names Knative generates for other',
    );
    const w = msg('*.wild.example.net', 'y', undefined);
    expect(w).toContain('covers a host that a ClusterDomainClaim gives to another namespace');
    expect(w).not.toContain('deep');
  });

  test('a refusal for a victim names neither the victim nor anyone else', () => {
    for (const m of [
      msg('app.victim.svc.cluster.local', 'attacker', undefined, 'ClusterLocal'),
      msg('app.victim', 'attacker', undefined, 'ClusterLocal'),
    ]) {
      // the host itself is the writer's own text; nothing else mentions the other namespace
      expect(m.replace(/^host \S+/, '')).not.toContain('victim');
    }
  });
});

describe('templates', () => {
  test('compile: followed constructs, and what makes a template opaque', () => {
    expect(compileDomainTemplate('{{.Name}}.{{.Namespace}}.{{.Domain}}').namespaced).toBe(true);
    expect(compileDomainTemplate('{{.Name}}.{{.Domain}}').namespaced).toBe(false);
    expect(compileDomainTemplate('{{/* c */}}{{.Name}}.{{.Namespace}}.{{.Domain}}').namespaced).toBe(true);
    expect(compileDomainTemplate('{{.Name}}.{{.Namespace | print}}.{{.Domain}}').segments).toBeUndefined();
    expect(compileDomainTemplate('{{.Name}}.{{.Namespace}}.{{.Domain').segments).toBeUndefined();
  });

  test('every namespace a host fits', () => {
    const t = compileDomainTemplate('{{.Name}}-{{.Namespace}}.{{.Domain}}');
    expect([...templateNamespaces(t, ['example.com'], 'a-b-c.example.com')].sort()).toEqual(['b-c', 'c']);
    // {{.Namespace}} twice must be the same namespace
    const twice = compileDomainTemplate('{{.Namespace}}-{{.Name}}.{{.Namespace}}.{{.Domain}}');
    expect([...templateNamespaces(twice, ['example.com'], 'ns-app.ns.example.com')]).toEqual(['ns']);
    expect([...templateNamespaces(twice, ['example.com'], 'ns-app.other.example.com')]).toEqual([]);
  });

  test('long hosts stay cheap', () => {
    const t = compileDomainTemplate('{{.Name}}{{.Annotations.a}}{{.Labels.b}}.{{.Namespace}}.{{.Domain}}');
    const host = `${'a-'.repeat(60)}a.${'b.'.repeat(60)}victim.example.com`;
    const t0 = performance.now();
    expect([...templateNamespaces(t, ['example.com'], host)]).toEqual(['victim']);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('refs: what a verdict depends on', () => {
  const spec = {
    rules: [
      { hosts: ['app.team.svc.cluster.local', 'app.team.svc', 'app.team'], visibility: 'ClusterLocal' },
      { hosts: ['app.team.example.com', 'Shop.Example.NET', '*.wild.io', 7] },
    ],
  };
  test('custom hosts only; the namespace when claim rules decide', () => {
    expect(hostRefs(spec, 'team', 'cluster.local', withDomains)).toEqual([
      'host:shop.example.net',
      'host:*.wild.io',
    ]);
    const r = policy({ domains: { default: 'example.com' }, domainClaims: { rules: [{ domains: ['io'] }] } });
    expect(hostRefs(spec, 'team', 'cluster.local', r)).toEqual([
      'host:shop.example.net',
      'host:*.wild.io',
      'ns:team',
    ]);
    // without the gateway's domains the template name is a custom host
    expect(hostRefs(spec, 'team', 'cluster.local', undefined)).toContain('host:app.team.example.com');
    expect(hostRefs('garbage', 'team', 'cluster.local', undefined)).toEqual([]);
  });

  test('a claim concerns its host and every wildcard over it', () => {
    expect(claimRefs('A.b.example.com.')).toEqual([
      'host:a.b.example.com',
      'host:*.b.example.com',
      'host:*.example.com',
      'host:*.com',
    ]);
  });
});
