// Edge cases of KubeRest and Reflector against a scripted HTTP server on 127.0.0.1 (a protocol
// fake: each list/watch request takes the next scripted step). The main proof is
// reflector.apiserver.test.ts, against a real kube-apiserver; this file covers what a real server
// will not do on demand: ERROR events, 500s, resets, malformed lines, silent or short streams.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import { KubeConfig } from '@kubernetes/client-node';
import {
  abortableSleep,
  MAX_BACKOFF_MS,
  MIN_BACKOFF_MS,
  Reflector,
  type KubeObject,
  type ReflectorEvent,
} from './reflector.ts';
import { ApiError, KubeRest } from './rest.ts';
import { captureLog, type LogLine } from '../../test/env/capture-log.ts';
import { waitUntil } from '../../test/env/proc.ts';

type Step =
  | { kind: 'json'; status: number; body: unknown }
  /** 200 and these lines (one write), then end the response, keep it open, or close the connection. */
  | { kind: 'stream'; lines: string[]; then: 'end' | 'hang' | 'cut'; noFinalNewline?: boolean }
  /** Reset the connection before answering. */
  | { kind: 'reset' }
  /** Status line, headers and part of the body, then close the connection. */
  | { kind: 'partial'; status: number; text: string }
  /** Nothing at all after the headers of a 200. */
  | { kind: 'silent' };

interface Seen {
  method: string;
  auth: string | undefined;
  path: string;
  query: URLSearchParams;
  watch: boolean;
}

/** A scripted API server: list and watch requests each take the next step of their queue. */
class FakeApi {
  readonly requests: Seen[] = [];
  readonly lists: Step[] = [];
  readonly watches: Step[] = [];
  readonly others: Step[] = [];
  defaultList: Step = listStep([cm('a', '5')], '10');
  defaultWatch: Step = { kind: 'stream', lines: [], then: 'hang' };
  private readonly server = http.createServer((req, res) => this.handle(req, res));
  private open = 0;

  async start(): Promise<string> {
    this.server.on('connection', (s) => {
      this.open++;
      s.on('close', () => this.open--);
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get openConnections(): number {
    return this.open;
  }

  watchRequests(): Seen[] {
    return this.requests.filter((r) => r.watch);
  }

  listRequests(): Seen[] {
    return this.requests.filter((r) => !r.watch && r.method === 'GET');
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const watch = url.searchParams.get('watch') === 'true';
    this.requests.push({
      method: req.method ?? '',
      auth: req.headers.authorization,
      path: url.pathname,
      query: url.searchParams,
      watch,
    });
    req.resume();
    const step = watch
      ? (this.watches.shift() ?? this.defaultWatch)
      : req.method === 'GET' && url.pathname.startsWith('/api/v1/configmaps')
        ? (this.lists.shift() ?? this.defaultList)
        : (this.others.shift() ?? { kind: 'json', status: 404, body: status(404, 'NotFound', 'no route') });
    switch (step.kind) {
      case 'json':
        res.writeHead(step.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(step.body));
        return;
      case 'stream': {
        res.writeHead(200, { 'content-type': 'application/json' });
        const after = (): void => {
          if (step.then === 'end') res.end();
          else if (step.then === 'cut') req.socket.destroy(); // FIN, so the lines arrive first
        };
        if (step.lines.length === 0) after();
        else res.write(step.lines.join('\n') + (step.noFinalNewline ? '' : '\n'), after);
        return;
      }
      case 'reset':
        req.socket.resetAndDestroy();
        return;
      case 'partial':
        res.writeHead(step.status, { 'content-type': 'application/json' });
        res.write(step.text, () => req.socket.destroy());
        return;
      case 'silent':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return;
    }
  }
}

function cm(name: string, rv: string, data: Record<string, string> = {}): KubeObject & { data: unknown } {
  return { metadata: { name, namespace: 'ns', resourceVersion: rv }, data };
}

function status(code: number, reason: string, message: string): unknown {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message, metadata: {} };
}

function listStep(items: unknown[], rv: string, cont?: string): Step {
  return {
    kind: 'json',
    status: 200,
    body: { kind: 'ConfigMapList', metadata: { resourceVersion: rv, continue: cont }, items },
  };
}

function ev(type: string, object: unknown): string {
  return JSON.stringify({ type, object });
}

function kubeConfigFor(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: true }],
    users: [{ name: 'u', token: 'fake-token' }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
    currentContext: 'fake',
  });
  return kc;
}

/** Polls `cond` every 5 ms for at most 10 s (waitUntil); an error it throws fails at once. */
const waitFor = (what: string, cond: () => boolean): Promise<true> =>
  waitUntil(what, () => Promise.resolve(cond()), { timeoutMs: 10_000, intervalMs: 5, retryIf: () => false });

/** Brief summary of a reflector event for order assertions. */
function brief(e: ReflectorEvent<KubeObject>): string {
  const rv = e.obj.metadata.resourceVersion ?? '';
  if (e.type === 'delete') return `delete ${e.obj.metadata.name}@${rv}`;
  return `upsert ${e.obj.metadata.name}@${rv}${e.old ? ` (was @${e.old.metadata.resourceVersion ?? ''})` : ''}`;
}

describe('Reflector against a scripted server', () => {
  let api: FakeApi;
  let rest: KubeRest;
  let reflector: Reflector<KubeObject> | undefined;
  let delays: number[];
  let events: string[];
  let logs: LogLine[];

  beforeEach(async () => {
    api = new FakeApi();
    rest = new KubeRest(kubeConfigFor(await api.start()));
    delays = [];
    events = [];
    reflector = undefined;
  });
  afterEach(async () => {
    await reflector?.stop();
    await api.stop();
  });

  /**
   * A reflector on /api/v1/configmaps whose backoff sleeps are recorded and last 1 ms — or, with
   * `gate`, last until the gate resolves (or the reflector stops).
   */
  function startReflector(
    extra: { limit?: number; gate?: Promise<void>; quiet?: (err: unknown) => boolean } = {},
  ): Reflector<KubeObject> {
    const captured = captureLog();
    logs = captured.lines;
    const r = new Reflector<KubeObject>(rest, {
      path: '/api/v1/configmaps',
      log: captured.log,
      limit: extra.limit,
      ...(extra.quiet ? { quiet: extra.quiet } : {}),
      random: () => 0.5,
      sleep: async (ms, signal) => {
        delays.push(ms);
        if (extra.gate) await Promise.race([extra.gate, abortableSleep(600_000, signal)]);
        return abortableSleep(1, signal);
      },
    });
    r.onEvent((e) => events.push(brief(e)));
    r.start();
    reflector = r;
    return r;
  }

  it('lists, then watches from the list resourceVersion with bookmarks and a jittered timeout', async () => {
    api.watches.push({
      kind: 'stream',
      lines: [ev('ADDED', cm('b', '11')), ev('MODIFIED', cm('a', '12')), ev('DELETED', cm('b', '13'))],
      then: 'hang',
    });
    const r = startReflector();
    await r.synced;
    await waitFor('three watch events', () => events.length === 4);
    expect(events).toEqual(['upsert a@5', 'upsert b@11', 'upsert a@12 (was @5)', 'delete b@13']);
    const w = api.watchRequests()[0]?.query;
    expect(w?.get('resourceVersion')).toBe('10');
    expect(w?.get('allowWatchBookmarks')).toBe('true');
    expect(w?.get('timeoutSeconds')).toBe('270'); // 240 + floor(0.5 * 60)
    expect(r.resourceVersion).toBe('13');
    expect([...r.store.keys()]).toEqual(['ns/a']);
    expect(delays).toEqual([]);
  });

  it('applies a paged list only once complete; synced waits for it', async () => {
    api.lists.push(
      listStep([cm('a', '5'), cm('b', '6')], '10', 'page-2'),
      { kind: 'json', status: 500, body: status(500, 'InternalError', 'etcd hiccup') },
      listStep([cm('a', '5'), cm('b', '6')], '12', 'page-2b'),
      listStep([cm('c', '7')], '12'),
    );
    let synced = false;
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const r = startReflector({ limit: 2, gate });
    void r.synced.then(() => (synced = true));
    await waitFor('the failed second page', () => delays.length === 1);
    expect(events).toEqual([]); // nothing from the partial list
    expect(synced).toBe(false);
    open();
    await r.synced;
    expect(events).toEqual(['upsert a@5', 'upsert b@6', 'upsert c@7']);
    const lists = api
      .listRequests()
      .map((q) => [q.query.get('limit'), q.query.get('continue'), q.query.get('resourceVersion')]);
    // the store is still empty when the list is retried: its first page comes from the watch cache
    expect(lists).toEqual([
      ['2', null, '0'],
      ['2', 'page-2', null],
      ['2', null, '0'],
      ['2', 'page-2b', null],
    ]);
    await waitFor('the watch', () => api.watchRequests().length === 1);
    expect(api.watchRequests()[0]?.query.get('resourceVersion')).toBe('12');
  });

  it('relists at once on a watch ERROR event with code 410 and reports what vanished', async () => {
    api.lists.push(
      listStep([cm('a', '5'), cm('b', '6')], '10'),
      listStep([cm('b', '6'), cm('c', '15')], '20'),
    );
    api.watches.push({
      kind: 'stream',
      lines: [ev('ERROR', status(410, 'Expired', 'too old resource version: 10 (15)'))],
      then: 'end', // as the apiserver does
    });
    const r = startReflector();
    await waitFor('the second watch', () => api.watchRequests().length === 2);
    expect(events).toEqual(['upsert a@5', 'upsert b@6', 'upsert c@15', 'delete a@5']);
    // the first list may come from the watch cache (resourceVersion 0); the relist reads etcd, so
    // the store never steps back to an older state than the one it had
    expect(
      api.requests.map((q) => `${q.watch ? 'watch' : 'list'}@${q.query.get('resourceVersion') ?? 'latest'}`),
    ).toEqual(['list@0', 'watch@10', 'list@latest', 'watch@20']);
    expect(delays).toEqual([]);
    expect(logs.map((l) => l.msg)).toContain('watch expired (410), relisting');
    expect([...r.store.keys()].sort()).toEqual(['ns/b', 'ns/c']);
  });

  it('backs off before a second 410 in a row', async () => {
    const gone = (): Step => ({
      kind: 'stream',
      lines: [ev('ERROR', status(410, 'Expired', 'gone'))],
      then: 'end',
    });
    api.watches.push(gone(), gone(), gone());
    startReflector();
    await waitFor('the fourth watch', () => api.watchRequests().length === 4);
    expect(api.listRequests()).toHaveLength(4);
    expect(delays).toEqual([MIN_BACKOFF_MS, 2 * MIN_BACKOFF_MS]);
  });

  it('backs off with growing delays capped at 30 s on HTTP 500, relisting after each', async () => {
    for (let i = 0; i < 12; i++)
      api.watches.push({ kind: 'json', status: 500, body: status(500, 'InternalError', `boom ${i}`) });
    startReflector();
    await waitFor('the 13th watch', () => api.watchRequests().length === 13);
    expect(delays).toHaveLength(12);
    expect(delays[0]).toBe(MIN_BACKOFF_MS);
    for (let i = 1; i < delays.length; i++) {
      const [prev, cur] = [delays[i - 1] ?? 0, delays[i] ?? 0];
      expect(cur).toBe(prev === MAX_BACKOFF_MS ? MAX_BACKOFF_MS : Math.min(prev * 2, MAX_BACKOFF_MS));
    }
    expect(Math.max(...delays)).toBe(MAX_BACKOFF_MS);
    expect(delays.filter((d) => d === MAX_BACKOFF_MS).length).toBeGreaterThan(1);
    expect(api.listRequests()).toHaveLength(13); // 1 + a relist after every 500
    expect(logs.filter((l) => l.msg === 'watch failed, retrying')).toHaveLength(12);
  });

  it('keeps the last list error readable (quietly when asked) until a list succeeds', async () => {
    api.lists.push(
      { kind: 'json', status: 404, body: status(404, 'NotFound', 'the server could not find the resource') },
      { kind: 'json', status: 403, body: status(403, 'Forbidden', 'cannot list') },
    );
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const r = startReflector({ gate, quiet: (e) => e instanceof ApiError && e.status === 404 });
    await waitFor('the first failure', () => delays.length === 1);
    expect(r.lastError).toBeInstanceOf(ApiError);
    expect((r.lastError as ApiError).status).toBe(404);
    expect(r.hasSynced).toBe(false);
    open();
    await r.synced;
    expect(r.lastError).toBeUndefined();
    expect(r.hasSynced).toBe(true);
    const retries = logs.filter((l) => l.msg === 'watch failed, retrying').map((l) => l.level);
    expect(retries).toEqual([20, 40]); // the 404 at debug, the 403 at warn
  });

  it('backs off on connection resets and resumes from the last resourceVersion without relisting', async () => {
    for (let i = 0; i < 6; i++) api.watches.push({ kind: 'reset' });
    startReflector();
    await waitFor('the 7th watch', () => api.watchRequests().length === 7);
    expect(delays).toEqual([200, 400, 800, 1600, 3200, 6400]);
    expect(api.listRequests()).toHaveLength(1);
    expect(new Set(api.watchRequests().map((q) => q.query.get('resourceVersion')))).toEqual(new Set(['10']));
  });

  it('resets the backoff after a healthy watch, whether it then fails or ends cleanly', async () => {
    api.watches.push(
      { kind: 'reset' },
      { kind: 'reset' },
      { kind: 'reset' },
      { kind: 'stream', lines: [ev('ADDED', cm('c', '11'))], then: 'cut' }, // healthy, then broken
      { kind: 'reset' },
      { kind: 'stream', lines: [ev('BOOKMARK', { metadata: { resourceVersion: '12' } })], then: 'end' },
      { kind: 'reset' },
    );
    const r = startReflector();
    await waitFor('the 8th watch', () => api.watchRequests().length === 8);
    expect(delays).toEqual([200, 400, 800, 200, 400, 200]);
    expect(api.watchRequests().map((q) => q.query.get('resourceVersion'))).toEqual([
      '10',
      '10',
      '10',
      '10',
      '11',
      '11',
      '12',
      '12',
    ]);
    expect(events).toEqual(['upsert a@5', 'upsert c@11']); // the bookmark emitted nothing
    expect(r.resourceVersion).toBe('12');
  });

  it('treats a stream the server closes at once without events as a failure, not a hot loop', async () => {
    for (let i = 0; i < 5; i++) api.watches.push({ kind: 'stream', lines: [], then: 'end' });
    startReflector();
    await waitFor('the 6th watch', () => api.watchRequests().length === 6);
    expect(delays).toEqual([200, 400, 800, 1600, 3200]);
  });

  it('tears down the watch on a malformed JSON line and resumes from the last good event', async () => {
    api.watches.push(
      {
        kind: 'stream',
        lines: [
          ev('ADDED', cm('x', '11')),
          '{"type":"MODIFIED","object":{"metadata":',
          ev('ADDED', cm('y', '13')),
        ],
        then: 'hang',
      },
      { kind: 'stream', lines: [ev('MODIFIED', cm('x', '14'))], then: 'hang' },
    );
    startReflector();
    await waitFor('the event of the second watch', () => events.length === 3);
    expect(events).toEqual(['upsert a@5', 'upsert x@11', 'upsert x@14 (was @11)']); // y was after the bad line
    expect(api.watchRequests().map((q) => q.query.get('resourceVersion'))).toEqual(['10', '11']);
    expect(api.listRequests()).toHaveLength(1);
    expect(delays).toEqual([MIN_BACKOFF_MS]);
    const failed = logs.find((l) => l.msg === 'watch failed, retrying');
    expect(String(failed?.err)).toMatch(/JSON/);
  });

  it('keeps going when a handler throws, and other handlers still see every event', async () => {
    api.watches.push({
      kind: 'stream',
      lines: [ev('ADDED', cm('b', '11')), ev('MODIFIED', cm('b', '12')), ev('DELETED', cm('a', '13'))],
      then: 'hang',
    });
    const r = startReflector();
    let thrown = 0;
    // registered after the recording handler of startReflector; also throws on the list's event
    r.onEvent(() => {
      thrown++;
      throw new Error('handler bug');
    });
    await waitFor('all events', () => events.length === 4);
    expect(events).toEqual(['upsert a@5', 'upsert b@11', 'upsert b@12 (was @11)', 'delete a@13']);
    expect(thrown).toBe(4);
    expect(logs.filter((l) => l.msg === 'reflector handler failed')).toHaveLength(4);
    expect(api.watchRequests()).toHaveLength(1); // the watch was never torn down
    expect(delays).toEqual([]);
    expect([...r.store.keys()]).toEqual(['ns/b']);
  });

  it('stop() closes an open watch and ends a pending backoff sleep', async () => {
    const r = startReflector();
    await waitFor('the watch', () => api.watchRequests().length === 1 && api.openConnections === 1);
    await r.stop();
    await waitFor('the server to see the watch connection closed', () => api.openConnections === 0);

    // now one that is in a (ten-minute) backoff sleep when stopped
    const failing = new FakeApi();
    const failingRest = new KubeRest(kubeConfigFor(await failing.start()));
    failing.defaultWatch = { kind: 'reset' };
    let sleeping = 0;
    const r2 = new Reflector<KubeObject>(failingRest, {
      path: '/api/v1/configmaps',
      log: captureLog().log,
      sleep: (_ms, signal) => {
        sleeping++;
        return abortableSleep(600_000, signal);
      },
    });
    r2.start();
    await waitFor('the backoff sleep', () => sleeping === 1);
    await r2.stop();
    expect(failing.watchRequests()).toHaveLength(1); // stopped in the sleep, before retrying
    await failing.stop();
  });
});

describe('abortableSleep', () => {
  it('leaves no abort listener behind after sleeping', async () => {
    const ac = new AbortController();
    for (let i = 0; i < 20; i++) await abortableSleep(1, ac.signal);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('resolves when the signal aborts', async () => {
    const ac = new AbortController();
    const p = abortableSleep(600_000, ac.signal);
    ac.abort();
    await p;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    await abortableSleep(600_000, ac.signal); // already aborted: at once
  });
});

describe('KubeRest against a scripted server', () => {
  let api: FakeApi;
  let rest: KubeRest;
  beforeEach(async () => {
    api = new FakeApi();
    rest = new KubeRest(kubeConfigFor(await api.start()));
  });
  afterEach(() => api.stop());

  it('sends the bearer token and query, and parses JSON', async () => {
    api.others.push({ kind: 'json', status: 200, body: { ok: true } });
    await expect(rest.get('/api/v1/namespaces/x', { a: 'b c', skip: undefined, n: 3 })).resolves.toEqual({
      ok: true,
    });
    const q = api.requests[0]?.query;
    expect(q?.get('a')).toBe('b c');
    expect(q?.has('skip')).toBe(false);
    expect(q?.get('n')).toBe('3');
    expect(api.requests[0]?.auth).toBe('Bearer fake-token');
  });

  it('turns a non-JSON error body into an ApiError with the status', async () => {
    api.others.push({ kind: 'json', status: 502, body: 'bad gateway' });
    const err = await rest.get('/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 502, reason: '' });
  });

  it('rejects a watch whose error answer is cut off mid-body (it used to hang forever)', async () => {
    api.watches.push({ kind: 'partial', status: 500, text: '{"kind":"Status","code":5' });
    const err = await rest
      .watch('/api/v1/configmaps', {}, () => undefined, new AbortController().signal)
      .catch((e: unknown) => e);
    expect(err instanceof ApiError).toBe(false);
    expect(String(err)).toMatch(/aborted/);
  });

  it('rejects with the handler error even when the stream ends right after that line', async () => {
    // what the apiserver does after an ERROR event; this used to resolve as a clean end
    api.watches.push({
      kind: 'stream',
      lines: [ev('ERROR', status(410, 'Expired', 'too old'))],
      then: 'end',
    });
    const err = await rest
      .watch(
        '/api/v1/configmaps',
        {},
        (e) => {
          if (e.type === 'ERROR') throw new ApiError(410, 'Expired', 'too old', e.object);
        },
        new AbortController().signal,
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 410, reason: 'Expired' });
  });

  it('delivers a last line without a newline, and rejects a truncated one', async () => {
    api.watches.push(
      {
        kind: 'stream',
        lines: [ev('ADDED', cm('a', '1')), ev('ADDED', cm('b', '2'))],
        then: 'end',
        noFinalNewline: true,
      },
      {
        kind: 'stream',
        lines: [ev('ADDED', cm('a', '1')), '{"type":"ADD'],
        then: 'end',
        noFinalNewline: true,
      },
    );
    const seen: string[] = [];
    const onEvent = (e: { object: unknown }) => seen.push((e.object as KubeObject).metadata.name);
    await rest.watch('/api/v1/configmaps', {}, onEvent, new AbortController().signal);
    expect(seen).toEqual(['a', 'b']);
    await expect(rest.watch('/api/v1/configmaps', {}, onEvent, new AbortController().signal)).rejects.toThrow(
      /JSON/,
    );
    expect(seen).toEqual(['a', 'b', 'a']);
  });

  it('rejects a watch whose stream is cut off mid-way', async () => {
    api.watches.push({ kind: 'stream', lines: [ev('ADDED', cm('a', '1'))], then: 'cut' });
    const seen: string[] = [];
    await expect(
      rest.watch('/api/v1/configmaps', {}, (e) => seen.push(e.type), new AbortController().signal),
    ).rejects.toThrow();
    expect(seen).toEqual(['ADDED']);
  });

  it('rejects a watch on a connection that stays silent longer than the idle timeout', async () => {
    api.watches.push({ kind: 'silent' });
    await expect(
      rest.watch(
        '/api/v1/configmaps',
        { timeoutSeconds: 300 },
        () => undefined,
        new AbortController().signal,
        100,
      ),
    ).rejects.toThrow(/idle/);
  });

  it('resolves a watch when its signal aborts, and a request rejects when its signal aborts', async () => {
    api.watches.push({ kind: 'silent' });
    const ac = new AbortController();
    const w = rest.watch('/api/v1/configmaps', {}, () => undefined, ac.signal);
    await waitFor('the watch request', () => api.watchRequests().length === 1);
    ac.abort();
    await expect(w).resolves.toBeUndefined();

    api.others.push({ kind: 'silent' });
    const ac2 = new AbortController();
    const g = rest.get('/api/v1/namespaces/y', undefined, ac2.signal);
    await waitFor('the get request', () => api.requests.length === 2);
    ac2.abort();
    await expect(g).rejects.toThrow(/aborted/);
    await waitFor('both connections closed', () => api.openConnections === 0);
  });
});
