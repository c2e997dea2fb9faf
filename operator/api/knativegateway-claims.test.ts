import { claimDecision, domainUnder, selectorMatches } from './knativegateway-claims.ts';

test('label selectors: matchLabels and every operator', () => {
  const labels = { team: 'a', tier: 'prod' };
  expect(selectorMatches(undefined, labels)).toBe(true);
  expect(selectorMatches({}, labels)).toBe(true);
  expect(selectorMatches({ matchLabels: { team: 'a' } }, labels)).toBe(true);
  expect(selectorMatches({ matchLabels: { team: 'b' } }, labels)).toBe(false);
  expect(
    selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod', 'qa'] }] }, labels),
  ).toBe(true);
  expect(
    selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['prod'] }] }, labels),
  ).toBe(false);
  expect(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, labels)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, labels)).toBe(
    false,
  );
  expect(
    selectorMatches({ matchExpressions: [{ key: 'x', operator: 'NotIn', values: ['y'] }] }, labels),
  ).toBe(true);
});

test('domain suffixes match the domain itself and names under it, not look-alikes', () => {
  expect(domainUnder('example.com', 'example.com')).toBe(true);
  expect(domainUnder('a.b.example.com', 'example.com')).toBe(true);
  expect(domainUnder('badexample.com', 'example.com')).toBe(false);
  expect(domainUnder('Example.COM.', 'example.com')).toBe(true);
});

test('policy: no rules allows all; rules restrict by suffix and namespace labels with specific messages', () => {
  expect(claimDecision({ autoCreate: true }, 'gw', 'x.example.com', 'ns', {})).toEqual({ allowed: true });
  const policy = {
    autoCreate: true,
    rules: [
      { domains: ['team-a.example.com'], namespaceSelector: { matchLabels: { team: 'a' } } },
      { domains: ['shared.example.com'] },
    ],
  };
  expect(claimDecision(policy, 'gw', 'app.team-a.example.com', 'a1', { team: 'a' }).allowed).toBe(true);
  expect(claimDecision(policy, 'gw', 'x.shared.example.com', 'b1', {}).allowed).toBe(true);
  expect(claimDecision(policy, 'gw', 'app.team-a.example.com', 'b1', { team: 'b' })).toEqual({
    allowed: false,
    message:
      "namespace b1 may not map domain app.team-a.example.com: KnativeGateway gw's domainClaims policy " +
      'allows it only for namespaces with labels team=a',
  });
  expect(claimDecision(policy, 'gw', 'evil.org', 'a1', { team: 'a' })).toEqual({
    allowed: false,
    message:
      "domain evil.org is not allowed by KnativeGateway gw's domainClaims policy " +
      '(allowed suffixes: shared.example.com, team-a.example.com)',
  });
});
