// KubeRest and Reflector against a real kube-apiserver + etcd (test/env/control-plane.ts): paged
// lists, event order, selectors, bookmarks, error statuses, merge and apply patches, a real 410
// after compacting etcd, and a clean stop. Needs the test parts from `bash test/env/setup.sh`.
//
// Secrets are served without the watch cache (--watch-cache-sizes=secrets#0), so a watch on them
// reads etcd directly and a compacted etcd answers an old resourceVersion with 410 Expired;
// ConfigMaps keep the watch cache, which is what sends bookmarks.
import { readdirSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane } from '../../test/env/control-plane.ts';
import { runInFreshProcess } from '../../test/env/fresh-process.ts';
import {
  abortableSleep,
  Reflector,
  type KubeObject,
  type ReflectorEvent,
  type ReflectorOptions,
} from './reflector.ts';
import { ApiError, KubeRest, type Query, type WatchEvent } from './rest.ts';
import { captureLog } from '../../test/env/capture-log.ts';
import { waitUntil } from '../../test/env/proc.ts';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

/** KubeRest that records list GETs and every watch request and event it passes on. */
class SpyRest extends KubeRest {
  readonly gets: { path: string; query: Query | undefined }[] = [];
  readonly watches: Query[] = [];
  readonly watchEvents: WatchEvent<KubeObject>[] = [];

  override get<T>(path: string, query?: Query, signal?: AbortSignal, accept?: string): Promise<T> {
    this.gets.push({ path, query });
    return super.get<T>(path, query, signal, accept);
  }

  override watch<T>(
    path: string,
    query: Query,
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
    idleTimeoutMs?: number,
    accept?: string,
    onOpen?: () => void,
  ): Promise<void> {
    this.watches.push(query);
    return super.watch<T>(
      path,
      query,
      (e) => {
        this.watchEvents.push(e as unknown as WatchEvent<KubeObject>);
        onEvent(e);
      },
      signal,
      idleTimeoutMs,
      accept,
      onOpen,
    );
  }
}

/** Polls `cond` every 20 ms for at most 20 s (waitUntil); an error it throws fails at once. */
const waitFor = (what: string, cond: () => boolean | Promise<boolean>): Promise<true> =>
  waitUntil(what, async () => await cond(), { timeoutMs: 20_000, intervalMs: 20, retryIf: () => false });

function brief(e: ReflectorEvent<KubeObject>): string {
  return `${e.type} ${e.obj.metadata.name}`;
}

/** A TCP forwarder to the apiserver that can cut every connection and refuse new ones. */
class CutProxy {
  private readonly server: net.Server;
  private readonly sockets = new Set<Socket>();
  private down = false;

  get connections(): number {
    return this.sockets.size;
  }

  constructor(targetPort: number) {
    this.server = net.createServer((client) => {
      if (this.down) {
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as AddressInfo).port;
  }

  cut(): void {
    this.down = true;
    for (const s of this.sockets) s.destroy();
  }

  resume(): void {
    this.down = false;
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The client URL of the etcd started for `cp`, read from its command line in /proc. */
function etcdClientUrl(cp: ControlPlane): string {
  const dataDir = `--data-dir=${join(cp.dir, 'etcd')}`;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue; // gone meanwhile
    }
    if (!args.includes(dataDir)) continue;
    const url = args.find((a) => a.startsWith('--listen-client-urls='));
    if (url !== undefined) return url.slice('--listen-client-urls='.length);
  }
  throw new Error(`no etcd process with ${dataDir}`);
}

/** POST to etcd's v3 JSON gateway (etcd 3.4 serves /v3/...). */
function etcdPost(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method: 'POST', agent: false, timeout: 10_000, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`etcd ${path}: ${res.statusCode}: ${text}`));
          else resolve(JSON.parse(text) as Record<string, unknown>);
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`etcd ${path}: timeout`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** Compacts etcd up to its current revision, so every older resourceVersion is gone. */
async function compactEtcd(base: string): Promise<string> {
  const range = await etcdPost(base, '/v3/kv/range', { key: Buffer.from('/').toString('base64') });
  const revision = (range.header as { revision: string }).revision;
  await etcdPost(base, '/v3/kv/compaction', { revision, physical: true });
  return revision;
}

describe('KubeRest and Reflector against a real kube-apiserver', () => {
  let cp: ControlPlane;
  let rest: KubeRest;
  const running: { stop(): Promise<void> }[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ apiserverArgs: ['--watch-cache-sizes=secrets#0'] });
    rest = new KubeRest(cp.kubeConfig());
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((r) => r.stop()));
  });
  afterAll(async () => {
    await cp?.stop();
  });

  async function namespace(name: string): Promise<void> {
    await rest.request('POST', '/api/v1/namespaces', { metadata: { name } });
  }

  function configMap(
    ns: string,
    name: string,
    data: Record<string, string> = {},
    labels?: Record<string, string>,
  ) {
    return rest.request<ConfigMap>('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      metadata: { name, labels },
      data,
    });
  }

  function mergePatch(path: string, patch: unknown): Promise<ConfigMap> {
    return rest.request<ConfigMap>('PATCH', path, patch, 'application/merge-patch+json');
  }

  function startReflector(
    r: KubeRest,
    opts: Partial<ReflectorOptions> & { path: string },
  ): { reflector: Reflector<ConfigMap>; events: ReflectorEvent<ConfigMap>[] } {
    const reflector = new Reflector<ConfigMap>(r, { log: captureLog().log, ...opts });
    const events: ReflectorEvent<ConfigMap>[] = [];
    reflector.onEvent((e) => events.push(e));
    reflector.start();
    running.push(reflector);
    return { reflector, events };
  }

  it('lists first from the watch cache in one answer, reports each object once, and resolves synced after the list', async () => {
    await namespace('paging');
    const names = Array.from({ length: 23 }, (_, i) => `cm-${String(i).padStart(2, '0')}`);
    for (const n of names) await configMap('paging', n, { n });
    const spy = new SpyRest(cp.kubeConfig());
    const order: string[] = [];
    const { reflector, events } = startReflector(spy, {
      path: '/api/v1/namespaces/paging/configmaps',
      limit: 5,
    });
    reflector.onEvent((e) => order.push(brief(e)));
    await reflector.synced;
    order.push('synced');

    const lists = spy.gets.filter((g) => g.path === '/api/v1/namespaces/paging/configmaps');
    // resourceVersion 0: the API server answers from its watch cache, all 23 at once (it ignores
    // the limit there); relists read etcd in pages (the 410 test below)
    expect(lists).toHaveLength(1);
    expect(lists[0]?.query).toMatchObject({ resourceVersion: '0', limit: 5, continue: undefined });
    expect(events.map((e) => e.type === 'upsert' && e.old === undefined)).toEqual(names.map(() => true));
    expect(events.map((e) => e.obj.metadata.name)).toEqual(names);
    expect([...reflector.store.keys()]).toEqual(names.map((n) => `paging/${n}`));
    expect(order.at(-1)).toBe('synced');
    expect(order).toHaveLength(24);

    // the first watch starts from the list's resourceVersion and sees a change made afterwards
    await configMap('paging', 'late');
    await waitFor('the late object', () => reflector.store.has('paging/late'));
    expect(order.slice(24)).toEqual(['upsert late']);
    expect(spy.watches[0]?.allowWatchBookmarks).toBe(true);
  });

  it('reports adds, updates and deletes in the order they happened', async () => {
    await namespace('events');
    const base = '/api/v1/namespaces/events/configmaps';
    const { reflector, events } = startReflector(rest, { path: base });
    await reflector.synced;
    expect(events).toEqual([]);

    const a1 = await configMap('events', 'a', { v: '1' });
    const a2 = await mergePatch(`${base}/a`, { data: { v: '2' } });
    await configMap('events', 'b', { v: '1' });
    await rest.request('DELETE', `${base}/a`);
    const b2 = await rest.request<ConfigMap>('PUT', `${base}/b`, {
      metadata: { name: 'b' },
      data: { v: '2' },
    });
    await waitFor('five events', () => events.length >= 5);

    expect(events.map(brief)).toEqual(['upsert a', 'upsert a', 'upsert b', 'delete a', 'upsert b']);
    const [e0, e1, , e3, e4] = events;
    expect(e0?.type === 'upsert' && e0.old).toBeUndefined();
    expect(e1?.type === 'upsert' && e1.old?.metadata.resourceVersion).toBe(a1.metadata.resourceVersion);
    expect(e1?.obj.metadata.resourceVersion).toBe(a2.metadata.resourceVersion);
    expect(e1?.obj.data).toEqual({ v: '2' });
    expect(e3?.obj.data).toEqual({ v: '2' }); // the deleted object's last state
    expect(e4?.obj.data).toEqual({ v: '2' });
    expect(reflector.resourceVersion).toBe(b2.metadata.resourceVersion);
    expect([...reflector.store.keys()]).toEqual(['events/b']);
  });

  it('honours label and field selectors, including objects that start or stop matching', async () => {
    await namespace('selectors');
    const base = '/api/v1/namespaces/selectors/configmaps';
    await configMap('selectors', 'x', {}, { app: 'kgw' });
    await configMap('selectors', 'y', {}, { app: 'other' });
    await configMap('selectors', 'z', {}, { app: 'kgw' });
    const byLabel = startReflector(rest, { path: base, labelSelector: 'app=kgw', limit: 1 });
    const byName = startReflector(rest, { path: base, fieldSelector: 'metadata.name=y' });
    await Promise.all([byLabel.reflector.synced, byName.reflector.synced]);
    expect([...byLabel.reflector.store.keys()]).toEqual(['selectors/x', 'selectors/z']);
    expect([...byName.reflector.store.keys()]).toEqual(['selectors/y']);

    await mergePatch(`${base}/z`, { metadata: { labels: { app: 'other' } } }); // z leaves the selector
    await mergePatch(`${base}/y`, { metadata: { labels: { app: 'kgw' } } }); // y joins it
    await mergePatch(`${base}/x`, { data: { touched: 'yes' } }); // not y: nothing for byName
    await mergePatch(`${base}/y`, { data: { touched: 'yes' } });
    await waitFor('selector events', () => byLabel.events.length >= 6 && byName.events.length >= 3);

    expect(byLabel.events.map(brief)).toEqual([
      'upsert x',
      'upsert z',
      'delete z',
      'upsert y',
      'upsert x',
      'upsert y',
    ]);
    expect(byName.events.map(brief)).toEqual(['upsert y', 'upsert y', 'upsert y']);
    expect([...byLabel.reflector.store.keys()].sort()).toEqual(['selectors/x', 'selectors/y']);
  });

  it('ApiError carries status, reason and message for 404, 409 and 422, from requests and watches', async () => {
    await namespace('errors');
    const base = '/api/v1/namespaces/errors/configmaps';
    const caught = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );

    const notFound = await caught(rest.get(`${base}/missing`));
    expect(notFound).toBeInstanceOf(ApiError);
    expect(notFound).toMatchObject({ status: 404, reason: 'NotFound' });
    expect((notFound as ApiError).message).toContain('"missing" not found');
    expect((notFound as ApiError).body).toMatchObject({ kind: 'Status', code: 404 });

    const first = await configMap('errors', 'dup');
    expect(await caught(configMap('errors', 'dup'))).toMatchObject({ status: 409, reason: 'AlreadyExists' });
    await mergePatch(`${base}/dup`, { data: { v: 'new' } });
    const stale = await caught(
      rest.request('PUT', `${base}/dup`, {
        metadata: { name: 'dup', resourceVersion: first.metadata.resourceVersion },
      }),
    );
    expect(stale).toMatchObject({ status: 409, reason: 'Conflict' });
    expect((stale as ApiError).message).toMatch(/modified/);

    const invalid = await caught(configMap('errors', 'Not_A_Name'));
    expect(invalid).toMatchObject({ status: 422, reason: 'Invalid' });

    const never = () => undefined;
    const badSelector = await caught(
      rest.watch(base, { fieldSelector: 'spec.nope=1' }, never, new AbortController().signal),
    );
    expect(badSelector).toMatchObject({ status: 400, reason: 'BadRequest' });
    expect((badSelector as ApiError).message).toMatch(/not a known field selector/);
    // an unknown API group answers with a plain-text 404: still an ApiError with the status
    const noGroup = await caught(
      rest.watch('/apis/nope.example.com/v1/things', {}, never, new AbortController().signal),
    );
    expect(noGroup).toBeInstanceOf(ApiError);
    expect(noGroup).toMatchObject({ status: 404 });
  });

  it('merge-patches and server-side applies, with field ownership conflicts as 409', async () => {
    await namespace('patches');
    const base = '/api/v1/namespaces/patches/configmaps';
    await configMap('patches', 'm', { keep: '1', drop: '1' });
    const merged = await mergePatch(`${base}/m`, { data: { drop: null, add: '2' } });
    expect(merged.data).toEqual({ keep: '1', add: '2' });

    const applyPatch = (manager: string, data: Record<string, string>, force?: boolean) =>
      rest.request<ConfigMap>(
        'PATCH',
        `${base}/applied`,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'applied', namespace: 'patches' }, data },
        'application/apply-patch+yaml',
        { fieldManager: manager, force },
      );
    const created = await applyPatch('kgw-a', { owner: 'a' });
    expect(created.data).toEqual({ owner: 'a' });
    const managed = created.metadata.managedFields as { manager: string; operation: string }[];
    expect(managed.map((m) => [m.manager, m.operation])).toEqual([['kgw-a', 'Apply']]);

    const conflict = await applyPatch('kgw-b', { owner: 'b' }).catch((e: unknown) => e);
    expect(conflict).toMatchObject({ status: 409, reason: 'Conflict' });
    expect((conflict as ApiError).message).toMatch(/conflict.*kgw-a/i);

    const forced = await applyPatch('kgw-b', { owner: 'b' }, true);
    expect(forced.data).toEqual({ owner: 'b' });
    // re-applying without a field removes it (the manager owned it)
    const again = await applyPatch('kgw-b', { other: 'x' });
    expect(again.data).toEqual({ other: 'x' });
  });

  it('receives bookmarks that advance the resourceVersion without emitting events', async () => {
    await namespace('bookmarks');
    const base = '/api/v1/namespaces/bookmarks/configmaps';
    await configMap('bookmarks', 'watched', {}, { bm: 'yes' });
    const spy = new SpyRest(cp.kubeConfig());
    // the apiserver sends a bookmark 2 s before a watch's timeout, if its cache moved past the
    // watch's resourceVersion; changes to objects outside the selector move it along
    const { reflector, events } = startReflector(spy, {
      path: base,
      labelSelector: 'bm=yes',
      watchTimeoutSeconds: 3,
    });
    await reflector.synced;
    const listRv = reflector.resourceVersion;
    const bookmarks = () => spy.watchEvents.filter((e) => e.type === 'BOOKMARK');
    let n = 0;
    const resumedFromBookmark = () => {
      const rvs = new Set(bookmarks().map((b) => b.object.metadata.resourceVersion));
      return spy.watches.some((q) => rvs.has(String(q.resourceVersion)));
    };
    await waitFor('a bookmark and a watch resumed from it', async () => {
      if (n < 200) await configMap('bookmarks', `noise-${n++}`);
      return resumedFromBookmark();
    });
    await reflector.stop();

    expect(spy.watches.every((q) => q.allowWatchBookmarks === true && q.timeoutSeconds === 3)).toBe(true);
    expect(spy.watchEvents.filter((e) => e.type !== 'BOOKMARK')).toEqual([]);
    expect(events.map(brief)).toEqual(['upsert watched']); // from the list only
    const last = bookmarks().at(-1)?.object.metadata.resourceVersion;
    expect(last).not.toBe(listRv);
    expect(reflector.resourceVersion).toBe(last);
    expect([...reflector.store.keys()]).toEqual(['bookmarks/watched']);
  });

  it('relists after a real 410 from a compacted etcd, reporting objects deleted while the watch was down', async () => {
    await namespace('gone');
    const base = '/api/v1/namespaces/gone/secrets';
    const secret = (name: string, v: string) =>
      rest.request('POST', base, { metadata: { name }, stringData: { v } });
    for (const n of ['s1', 's2', 's3', 's4', 's5']) await secret(n, '1');

    const proxy = new CutProxy(Number(new URL(cp.server).port));
    const proxyPort = await proxy.start();
    try {
      const kc = cp.kubeConfig();
      const cluster = kc.getCurrentCluster();
      if (cluster === null) throw new Error('no cluster');
      const viaProxy = new KubeConfig();
      viaProxy.loadFromOptions({
        clusters: [{ ...cluster, server: `https://127.0.0.1:${proxyPort}` }],
        users: kc.users,
        contexts: kc.contexts,
        currentContext: kc.currentContext,
      });
      const { log, lines } = captureLog();
      const delays: number[] = [];
      const spy = new SpyRest(viaProxy);
      const { reflector, events } = startReflector(spy, {
        path: base,
        log,
        limit: 2,
        sleep: (ms, signal) => {
          delays.push(ms);
          return abortableSleep(Math.min(ms, 50), signal); // keep the test quick; delays are recorded
        },
      });
      await reflector.synced;
      await waitFor('the watch', () => spy.watches.length > 0 && proxy.connections > 0);
      expect(events.map(brief)).toEqual(['upsert s1', 'upsert s2', 'upsert s3', 'upsert s4', 'upsert s5']);
      const before = events.length;

      proxy.cut();
      await rest.request('DELETE', `${base}/s1`);
      await rest.request('DELETE', `${base}/s2`);
      await rest.request('PATCH', `${base}/s3`, { stringData: { v: '2' } }, 'application/merge-patch+json');
      await secret('s6', '1');
      await compactEtcd(etcdClientUrl(cp));
      await waitFor('a failed reconnect while cut', () => delays.length > 0);
      proxy.resume();

      await waitFor('the relist', () => reflector.store.has('gone/s6') && !reflector.store.has('gone/s1'));
      const after = events.slice(before);
      // a relist reports changed and new objects in list order, then what disappeared
      expect(after.map(brief)).toEqual(['upsert s3', 'upsert s6', 'delete s1', 'delete s2']);
      const s3 = after[0];
      expect(s3?.type === 'upsert' && s3.old?.metadata.resourceVersion).not.toBe(
        s3?.obj.metadata.resourceVersion,
      );
      expect(lines.map((l) => l.msg)).toContain('watch expired (410), relisting');
      expect([...reflector.store.keys()].sort()).toEqual(['gone/s3', 'gone/s4', 'gone/s5', 'gone/s6']);
      // the relist read etcd (no resourceVersion) in pages of 2: 4 objects, the second page by token
      const relist = spy.gets.filter((g) => g.path === base).slice(-2);
      expect(relist.map((g) => [g.query?.resourceVersion, g.query?.limit, typeof g.query?.continue])).toEqual(
        [
          [undefined, 2, 'undefined'],
          [undefined, 2, 'string'],
        ],
      );
      // the watch after the relist works again
      await rest.request('DELETE', `${base}/s4`);
      await waitFor('the delete of s4', () => !reflector.store.has('gone/s4'));
      expect(brief(events.at(-1) as ReflectorEvent<KubeObject>)).toBe('delete s4');
    } finally {
      await Promise.all(running.splice(0).map((r) => r.stop()));
      await proxy.stop();
    }
  });

  it('stop() ends the watch and leaves nothing that keeps the process alive', async () => {
    await namespace('stopping');
    // a fresh process that syncs, sees one watch event, stops, and must then exit by itself
    const result = await runInFreshProcess({
      dir: cp.dir,
      name: 'stop-check',
      kubeconfigPath: cp.kubeconfigPath,
      imports: { Reflector: 'operator/kube/reflector.ts' },
      body: [
        "const r = new Reflector(rest, { path: '/api/v1/namespaces/stopping/configmaps', log });",
        'const seen = new Promise((resolve) => r.onEvent(resolve));',
        'r.start();',
        'await r.synced;',
        "await rest.request('POST', '/api/v1/namespaces/stopping/configmaps', { metadata: { name: 'c' } });",
        'await seen;',
        'await r.stop();',
        "process.stdout.write('stopped\\n');",
      ],
    });
    // killed by the 30 s bound (signal SIGKILL) ⇒ something kept the event loop alive after stop();
    // on a failure the whole result, stderr included, is printed
    expect(result).toMatchObject({ signal: null, code: 0, stdout: 'stopped\n' });
  });
});
