import { RoutePolicySpecSchema } from './routepolicy.ts';
import { schemaProblems } from './schema-check.ts';

test('problems name the field path, the missing or unknown field, and the allowed values', () => {
  const spec = {
    targetRefs: [{ kind: 'Deployment', name: 'hello' }],
    apiKeyAuth: { keySources: [{ header: 'x-key' }] },
    colour: 'blue',
  };
  expect(schemaProblems(RoutePolicySpecSchema, spec, 'spec')).toEqual([
    'spec.colour: unknown field',
    'spec.targetRefs[0].kind: must be one of "Service", "Route", "DomainMapping"',
    'spec.apiKeyAuth.credentialsFrom: required',
  ]);
});

test('a valid spec has no problems and gets the schema defaults', () => {
  const spec: Record<string, unknown> = {
    targetRefs: [{ kind: 'Service', name: 'hello' }],
    cors: { allowOrigins: ['https://*.example.com'] },
  };
  expect(schemaProblems(RoutePolicySpecSchema, spec, 'spec')).toEqual([]);
  expect(spec).toEqual({
    targetRefs: [{ group: 'serving.knative.dev', kind: 'Service', name: 'hello' }],
    cors: { allowOrigins: ['https://*.example.com'], allowCredentials: false },
  });
});

test('an object that is not one gets one problem at the root', () => {
  expect(schemaProblems(RoutePolicySpecSchema, 'x', 'spec')).toEqual(['spec: must be object']);
});
