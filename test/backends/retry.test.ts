import { httpRequest } from './client.ts';
import { startBackend, type Backend } from './server.ts';

const started: Backend[] = [];
afterAll(async () => {
  await Promise.all(started.map((b) => b.close(100)));
});

describe('retry backend', () => {
  it.each([
    ['HTTP/1.1', false],
    ['h2c', true],
  ])('over %s: first request 503 "Retry 0", later ones 200; probes do not count', async (_n, h2c) => {
    const b = await startBackend({ kind: 'retry' });
    started.push(b);
    const base = { address: b.address, port: b.port, host: 'retry.example.com', h2c };
    const probe = await httpRequest({
      ...base,
      headers: { 'K-Network-Probe': 'probe', 'K-Network-Hash': 'h' },
    });
    expect(probe.status).toBe(200);
    const first = await httpRequest(base);
    expect(first.status).toBe(503);
    expect(first.body).toBe('Retry 0');
    for (let i = 1; i <= 3; i++) {
      const later = await httpRequest(base);
      expect(later.status).toBe(200);
      expect(later.body).toBe(`Retry ${i}`);
    }
  });
});
