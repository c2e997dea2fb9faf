import { planOf } from './protojson-plan.ts';
import { messageType } from './protos.ts';

test('a message type: its fields by .proto name and its repeated message fields', () => {
  const route = messageType('envoy.config.route.v3.RouteConfiguration');
  const plan = planOf(route);
  expect(plan.desc).toBe(route);
  expect(plan.special).toBeUndefined();
  expect(plan.fields.get('virtual_hosts')?.name).toBe('virtual_hosts');
  expect(plan.fields.has('virtualHosts')).toBe(false);
  expect([...plan.split.keys()]).toContain('virtual_hosts');
  // repeated strings are not split
  expect(plan.fields.has('internal_only_headers')).toBe(true);
  expect(plan.split.has('internal_only_headers')).toBe(false);
});

test('well-known types with a JSON form of their own', () => {
  expect(planOf(messageType('google.protobuf.Any')).special).toBe('any');
  expect(planOf(messageType('google.protobuf.Struct')).special).toBe('plain');
  expect(planOf(messageType('google.protobuf.ListValue')).special).toBe('plain');
  expect(planOf(messageType('google.protobuf.Duration')).special).toBe('other');
  expect(planOf(messageType('google.protobuf.UInt32Value')).special).toBe('other');
});

test('made once per type', () => {
  const d = messageType('envoy.config.cluster.v3.Cluster');
  expect(planOf(d)).toBe(planOf(d));
});
