// Creates real network namespaces (needs root and iproute2) and reaches servers inside them.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get } from 'node:http';
import { createTestNetwork, cleanupStaleNetworks, type TestNetwork } from './netns.ts';

function netnsList(): string[] {
  return execFileSync('ip', ['netns', 'list'])
    .toString()
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter(Boolean);
}

function linkExists(name: string): boolean {
  try {
    execFileSync('ip', ['link', 'show', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function httpGetText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 5000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

/** Spawns a tiny node HTTP server inside `net` on `addr:port`; resolves once it listens. */
function startServer(net: TestNetwork, addr: string, port: number, reply: string): Promise<ChildProcess> {
  const script = `require('node:http').createServer((q, s) => s.end(${JSON.stringify(reply)} + ' from ' + q.socket.localAddress))
    .listen(${port}, ${JSON.stringify(addr)}, () => console.log('listening'));`;
  const child = net.spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start within 10 s')), 10_000);
    child.stdout?.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}`));
    });
  });
}

function exitOf(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => c.once('exit', () => resolve()));
}

describe('test network', () => {
  it('runs a server inside the namespace that the test process reaches on an allocated address', async () => {
    const net = await createTestNetwork();
    try {
      expect(net.name).toMatch(/^kgw-[0-9a-f]{6}$/);
      expect(netnsList()).toContain(net.name);
      expect(net.hostAddress).toBe(`198.18.${net.index}.1`);
      const a = await net.allocateAddress();
      const b = await net.allocateAddress();
      expect(a).toBe(`198.18.${net.index}.2`);
      expect(b).toBe(`198.18.${net.index}.3`);
      const server = await startServer(net, a, 8080, 'hello');
      expect(await httpGetText(`http://${a}:8080/`)).toBe(`hello from ${a}`);
      // the server really is inside: the namespace's loopback is its own
      const inside = execFileSync('ip', ['netns', 'pids', net.name]).toString().split(/\s+/).filter(Boolean);
      expect(inside).toContain(String(server.pid));
      await net.destroy();
      await exitOf(server);
      expect(server.exitCode !== null || server.signalCode !== null).toBe(true);
      expect(netnsList()).not.toContain(net.name);
      await expect(net.allocateAddress()).rejects.toThrow(/destroyed/);
    } finally {
      await net.destroy();
    }
  });

  it('gives parallel networks distinct subnets, each reachable', async () => {
    const nets = await Promise.all([createTestNetwork(), createTestNetwork(), createTestNetwork()]);
    try {
      expect(new Set(nets.map((n) => n.index)).size).toBe(3);
      expect(new Set(nets.map((n) => n.name)).size).toBe(3);
      const servers = await Promise.all(
        nets.map(async (n) => {
          const addr = await n.allocateAddress();
          await startServer(n, addr, 9000, n.name);
          return { n, addr };
        }),
      );
      for (const { n, addr } of servers)
        expect(await httpGetText(`http://${addr}:9000/`)).toBe(`${n.name} from ${addr}`);
    } finally {
      await Promise.all(nets.map((n) => n.destroy()));
    }
    for (const n of nets) expect(netnsList()).not.toContain(n.name);
  });

  it('cleanupStaleNetworks removes the network of a process that died without cleaning up', async () => {
    // a child node process creates a network and is SIGKILLed, so neither destroy() nor its exit hook runs
    const script = `
      const { createTestNetwork } = await import(${JSON.stringify(new URL('./netns.ts', import.meta.url).href)});
      const net = await createTestNetwork();
      console.log(net.name + ' ' + net.index);
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('child did not create a network within 20 s')), 20_000);
      child.stdout.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(d.toString().trim());
      });
    });
    const [name = '', index = ''] = line.split(' ');
    const veth = `kgw${index}r`;
    expect(netnsList()).toContain(name);
    expect(linkExists(veth)).toBe(true);
    child.kill('SIGKILL');
    await exitOf(child);
    expect(netnsList()).toContain(name); // left behind
    const own = await createTestNetwork(); // a live network must survive the sweep
    try {
      expect(cleanupStaleNetworks()).toContain(name);
      expect(netnsList()).not.toContain(name);
      expect(linkExists(veth)).toBe(false);
      expect(existsSync(`/run/kgw-netns/${index}/test-network.json`)).toBe(false);
      expect(netnsList()).toContain(own.name);
      expect(linkExists(`kgw${own.index}r`)).toBe(true);
    } finally {
      await own.destroy();
    }
  });

  it('rejects a name that does not start with kgw-', async () => {
    await expect(createTestNetwork({ name: 'other' })).rejects.toThrow(/kgw-/);
  });
});
