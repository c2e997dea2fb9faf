import { existsSync } from 'node:fs';
import http from 'node:http';
import { LocalNetwork } from './network.ts';

function get(address: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: address, port, path: '/', agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function waitFor(fn: () => Promise<string>, tries = 50): Promise<string> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fn();
    } catch (e) {
      last = e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw last;
}

test('pods get their own namespace and address, reachable from the root namespace and each other', async () => {
  const net = await LocalNetwork.create();
  try {
    const a = await net.addPod('a');
    const b = await net.addPod('b');
    expect(a.address).not.toBe(b.address);
    const server = `require('http').createServer((q,s)=>s.end(process.argv[1])).listen(9000,'0.0.0.0')`;
    a.spawn(process.execPath, ['-e', server, 'from-a']);
    b.spawn(process.execPath, ['-e', server, 'from-b']);
    // Both listen on 0.0.0.0:9000 without conflict: separate namespaces.
    expect(await waitFor(() => get(a.address, 9000))).toBe('from-a');
    expect(await waitFor(() => get(b.address, 9000))).toBe('from-b');
    // Pod to pod across the bridge.
    const probe = `require('http').get('http://${b.address}:9000/',r=>{let d='';r.on('data',c=>d+=c);r.on('end',()=>{console.log(d)})})`;
    const c = a.spawn(process.execPath, ['-e', probe], { stdio: ['ignore', 'pipe', 'inherit'] });
    const out = await new Promise<string>((resolve) => {
      let s = '';
      c.stdout?.on('data', (d: Buffer) => (s += d.toString()));
      c.on('exit', () => resolve(s.trim()));
    });
    expect(out).toBe('from-b');
  } finally {
    await net.destroy();
  }
});

test('an address is never handed out twice, also across processes attached to the network', async () => {
  const net = await LocalNetwork.create();
  try {
    const a = await net.addPod('a');
    await a.destroy();
    // A second handle on the same network (as another operator replica would attach).
    const other = LocalNetwork.attach(net.subnet);
    const b = await other.addPod('b');
    const c = await net.addPod('c');
    // Reusing a's address would leave neighbours with a stale ARP entry for it.
    expect(new Set([a.address, b.address, c.address]).size).toBe(3);
    await other.destroy(); // its own pods only (b), not the network
    expect(existsSync(`/run/netns/${b.netns}`)).toBe(false);
    expect(existsSync(`/run/netns/${c.netns}`)).toBe(true);
    // A new handle adopts a pod another one created (by namespace and address).
    const third = LocalNetwork.attach(net.subnet);
    expect(third.pod(c.netns, c.address)?.address).toBe(c.address);
    expect(third.pod('kgw-nonexistent', '198.18.0.1')).toBeUndefined();
  } finally {
    await net.destroy();
  }
  expect(() => LocalNetwork.attach(net.subnet)).toThrow(/no local network/);
});
