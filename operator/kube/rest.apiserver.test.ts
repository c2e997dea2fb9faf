// KubeRest against a real kube-apiserver: what a finished request leaves behind.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { kubeconfigConnection } from './config.ts';
import { ApiError, KubeRest } from './rest.ts';

// a full GC from inside the test (jest's node is not started with --expose-gc)
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
}, 120_000);
afterAll(async () => {
  await cp?.stop();
});

async function collected(refs: WeakRef<object>[]): Promise<number> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 20));
    gc();
  }
  return refs.filter((r) => r.deref() === undefined).length;
}

async function errorBody(rest: KubeRest): Promise<WeakRef<object>> {
  const err = await rest.get('/api/v1/namespaces/no-such-namespace').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ApiError);
  return new WeakRef((err as ApiError).body as object);
}

// Node's https agent keeps the request that opened a keep-alive TLS connection reachable from that
// socket's 'session' listener for as long as the socket lives. A response (a LIST of 10k KIngresses
// at start-up) must not stay reachable through that request's listeners.
test('a response is garbage once its caller drops it, though its keep-alive connection lives on', async () => {
  const rest = new KubeRest(kubeconfigConnection(cp.kubeconfigPath));
  const refs: WeakRef<object>[] = [];
  for (let i = 0; i < 4; i++) refs.push(new WeakRef(await rest.get<object>('/api/v1/namespaces')));
  // an error answer's body too
  refs.push(await errorBody(rest));
  expect(await collected(refs)).toBe(refs.length);
  rest.close();
});
