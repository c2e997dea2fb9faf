// renewCertificate must not set Issuing while cert-manager is still finishing the last issuance
// (Secret written, status.revision not yet recorded): that renewal would be taken as done.
import { renewCertificate } from './cert-manager.ts';

interface Status {
  revision?: number;
  conditions: { type: string; status: string; reason?: string }[];
}

/** A Certificate that goes through `states` one GET at a time, recording the status PUTs. */
function fakeClient(states: Status[]) {
  let gets = 0;
  const puts: { atGet: number; status: Status }[] = [];
  return {
    puts,
    gets: () => gets,
    async request<T>(method: string, _path: string, body?: unknown): Promise<T> {
      if (method === 'GET') {
        const status = states[Math.min(gets, states.length - 1)];
        gets++;
        return Promise.resolve({ metadata: { generation: 1 }, status } as T);
      }
      puts.push({ atGet: gets, status: (body as { status: Status }).status });
      return Promise.resolve({} as T);
    },
  };
}

const issuing: Status = {
  conditions: [
    { type: 'Ready', status: 'False' },
    { type: 'Issuing', status: 'True' },
  ],
};
// what cert-manager shows between writing the Secret and recording the revision
const secretWritten: Status = {
  conditions: [
    { type: 'Ready', status: 'True' },
    { type: 'Issuing', status: 'True' },
  ],
};
const atRest: Status = { revision: 1, conditions: [{ type: 'Ready', status: 'True' }] };

test('waits for the Certificate to be issued and not issuing, then sets Issuing=True (ManuallyTriggered)', async () => {
  const c = fakeClient([issuing, secretWritten, secretWritten, atRest]);
  await expect(renewCertificate(c, 'ns', 'crt')).resolves.toBe(1);
  expect(c.puts).toHaveLength(1);
  const put = c.puts[0];
  expect(put?.atGet).toBeGreaterThanOrEqual(4); // not before the at-rest state was read
  expect(put?.status.revision).toBe(1);
  expect(put?.status.conditions).toEqual([
    { type: 'Ready', status: 'True' },
    expect.objectContaining({ type: 'Issuing', status: 'True', reason: 'ManuallyTriggered' }),
  ]);
});

test('a Certificate already at rest is renewed at once', async () => {
  const c = fakeClient([atRest]);
  await expect(renewCertificate(c, 'ns', 'crt')).resolves.toBe(1);
  expect(c.puts).toHaveLength(1);
  expect(c.gets()).toBe(2);
});
