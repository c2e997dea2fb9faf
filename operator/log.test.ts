import { newLogger } from './log.ts';

test('logger is created with the component as a base key', () => {
  const log = newLogger('unit', 'debug');
  expect(log.level).toBe('debug');
  expect(log.bindings()).toMatchObject({ component: 'unit' });
});
