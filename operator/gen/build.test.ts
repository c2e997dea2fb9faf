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
