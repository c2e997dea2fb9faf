import { knativeNames } from './knative-names.ts';

const ing = (name: string, labels?: Record<string, string>) => ({
  metadata: { name, namespace: 'team-a', ...(labels ? { labels } : {}) },
});

test('the Knative Service label names the KIngress in metrics', () => {
  expect(
    knativeNames(ing('hello', { 'serving.knative.dev/service': 'shop', 'serving.knative.dev/route': 'r' })),
  ).toEqual({ namespace: 'team-a', service: 'shop' });
});

test('without it the Route label, then the KIngress name with its dots written _', () => {
  expect(knativeNames(ing('hello', { 'serving.knative.dev/route': 'hello-route' })).service).toBe(
    'hello-route',
  );
  expect(knativeNames(ing('api.example.com')).service).toBe('api_example_com');
});

test('label values that are no DNS label are not used (an adversary writes the labels)', () => {
  for (const bad of ['Upper', 'a.b', 'a_b', 'a~b', '-a', 'a-', '', 'x'.repeat(64)]) {
    expect([bad, knativeNames(ing('fallback', { 'serving.knative.dev/service': bad })).service]).toEqual([
      bad,
      'fallback',
    ]);
  }
  expect(knativeNames(ing('n', { 'serving.knative.dev/service': 'x'.repeat(63) })).service).toBe(
    'x'.repeat(63),
  );
});
