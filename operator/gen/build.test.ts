// What the image compiles (tsconfig.build.json, the Dockerfile's build stage): the shipped code
// only — operator/ and webhook/ without their tests. tsc follows imports past `include`, so this
// checks the whole program tsc would build, not just the globs: no test file, nothing from test/
// or bench/ (the local demo and the e2e harness are development scripts under test/). And the
// operator as it runs (operator/cli.ts and everything it imports, the webhooks included) does not
// import this generator: the names and ports it shares with the manifests live in
// operator/api/install.ts, the webhook list in webhook/webhooks.ts.
import { join, relative, sep } from 'node:path';
import ts from 'typescript';
import { repoRoot } from './generate.ts';

const root = repoRoot();

/** The repository files of the program tsc builds from tsconfig.build.json (or from `roots`). */
function buildProgramFiles(roots?: string[]): string[] {
  const configPath = join(root, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  const program = ts.createProgram({
    rootNames: roots?.map((r) => join(root, r)) ?? parsed.fileNames,
    options: parsed.options,
  });
  return program
    .getSourceFiles()
    .map((f) => relative(root, f.fileName).split(sep).join('/'))
    .filter((f) => !/(^|\/)node_modules\//.test(f)); // also when node_modules is a symlink
}

test('tsconfig.build.json compiles operator/ and webhook/ only, without tests, test/ or bench/', () => {
  const files = buildProgramFiles();
  expect(files).toContain('operator/cli.ts');
  expect(files).toContain('webhook/server.ts');
  expect(files.filter((f) => !/^(operator|webhook)\//.test(f) || f.endsWith('.test.ts'))).toEqual([]);
}, 60_000);

test('the running operator (operator/cli.ts, its dynamic imports included) imports nothing from operator/gen/', () => {
  const files = buildProgramFiles(['operator/cli.ts']);
  expect(files).toContain('operator/run.ts'); // cli.ts imports it dynamically
  expect(files).toContain('webhook/server.ts');
  expect(files.filter((f) => f.startsWith('operator/gen/') || !/^(operator|webhook)\//.test(f))).toEqual([]);
}, 60_000);

/**
 * Imports of each shipped module: runtime ones (static `import`/`export … from`, not
 * `import type`), or with `types` every import, type-only ones included; package imports too.
 */
function importGraph(types = false): Map<string, string[]> {
  const configPath = join(root, 'tsconfig.build.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  const rel = (f: string): string => relative(root, f).split(sep).join('/');
  const graph = new Map<string, string[]>();
  for (const sf of program.getSourceFiles()) {
    const from = rel(sf.fileName);
    if (!/^(operator|webhook)\//.test(from)) continue;
    const targets: string[] = [];
    for (const st of sf.statements) {
      let spec: ts.Expression | undefined;
      if (ts.isImportDeclaration(st) && (types || st.importClause?.isTypeOnly !== true))
        spec = st.moduleSpecifier;
      if (ts.isExportDeclaration(st) && (types || !st.isTypeOnly)) spec = st.moduleSpecifier;
      if (spec === undefined || !ts.isStringLiteral(spec)) continue;
      if (!spec.text.startsWith('.')) {
        if (types) targets.push(spec.text);
        continue;
      }
      const r = ts.resolveModuleName(spec.text, sf.fileName, parsed.options, ts.sys).resolvedModule;
      if (r !== undefined) targets.push(rel(r.resolvedFileName));
    }
    graph.set(from, targets);
  }
  return graph;
}

/** The cycles of a graph, each as the path that closes it (depth-first, one per back edge). */
function importCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (state.get(m) === undefined) visit(m);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (state.get(n) === undefined) visit(n);
  return cycles;
}

test('importCycles finds a cycle and only that', () => {
  const g = new Map([
    ['a', ['b']],
    ['b', ['c', 'd']],
    ['c', ['a']],
    ['d', []],
  ]);
  expect(importCycles(g)).toEqual([['a', 'b', 'c', 'a']]);
  expect(
    importCycles(
      new Map([
        ['a', ['b']],
        ['b', []],
      ]),
    ),
  ).toEqual([]);
});

test('the shipped modules import each other without cycles (type-only imports aside)', () => {
  const graph = importGraph();
  expect(graph.size).toBeGreaterThan(50);
  expect(graph.get('operator/cli.ts')).toBeDefined();
  expect(importCycles(graph)).toEqual([]);
}, 60_000);

// The layers of docs/architecture.md: translate turns Kubernetes objects into the IR and the
// BackendData (endpoints, certificates); render turns those into Envoy resources and never sees
// a Kubernetes object, the informer caches or the API client.
test('render/ reads no Kubernetes object: not api/core.ts, the Lookups, kube/ or the client library', () => {
  const graph = importGraph(true);
  const render = [...graph.keys()].filter((f) => f.startsWith('operator/render/'));
  expect(render.length).toBeGreaterThan(10);
  const forbidden = (t: string): boolean =>
    t === 'operator/api/core.ts' ||
    t === 'operator/translate/lookups.ts' ||
    t === 'operator/translate/backend-data.ts' ||
    t.startsWith('operator/kube/') ||
    t.startsWith('@kubernetes/');
  expect(
    render.flatMap((f) =>
      graph
        .get(f)!
        .filter(forbidden)
        .map((t) => `${f} → ${t}`),
    ),
  ).toEqual([]);
}, 60_000);
