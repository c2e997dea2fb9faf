// Input lists for build-images.sh, so an image is rebuilt exactly when a file it is made from
// changes:
//   node test/cluster/context.ts context <dir>        the files of a build context: every file
//        under <dir> that `.dockerignore` lets through (Docker's rules: patterns are matched
//        against the path and each of its parent folders, `**` spans folders, the last matching
//        pattern wins, `!` re-includes), one `<sha256>  <path>` line per file, sorted.
//   node test/cluster/context.ts closure <repo> <entry.ts>   what running <entry.ts> with node
//        needs: the relative-import closure of the entry plus every other non-test file of its
//        folder (assets such as .proto files are read at run time), then the npm packages imported
//        and their dependencies as resolved in package-lock.json; one repo-relative path per
//        line, `node_modules/...` lines being package folders.
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

interface Pattern {
  exclusion: boolean;
  re: RegExp;
  /** The cleaned pattern text (no `!`, no leading or trailing `/`). */
  text: string;
}

function globToRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` may match no folder at all; a trailing `**` matches everything below
        if (glob[i + 2] === '/') {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) {
        out += '\\[';
      } else {
        out += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, '^')
          .replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < glob.length) {
      out += `\\${glob[i + 1]}`;
      i += 1;
    } else {
      out += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`);
}

/** Parses `.dockerignore` text into patterns (comments and blank lines dropped, paths cleaned). */
export function parseDockerignore(text: string): Pattern[] {
  const patterns: Pattern[] = [];
  for (const raw of text.split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclusion = line.startsWith('!');
    if (exclusion) line = line.slice(1).trim();
    const cleaned = line
      .split('/')
      .filter((s) => s !== '' && s !== '.')
      .join('/');
    if (cleaned === '') continue;
    patterns.push({ exclusion, re: globToRegExp(cleaned), text: cleaned });
  }
  return patterns;
}

/** Docker's rule: true if `path` (relative, `/`-separated) is excluded from the context. */
export function isExcluded(patterns: Pattern[], path: string): boolean {
  const parts = path.split('/');
  let excluded = false;
  for (const p of patterns) {
    // an exclusion only matters once excluded, an inclusion only while not
    if (p.exclusion !== excluded) continue;
    let match = p.re.test(path);
    for (let i = 1; !match && i < parts.length; i++) match = p.re.test(parts.slice(0, i).join('/'));
    if (match) excluded = !p.exclusion;
  }
  return excluded;
}

/** Whether some `!` pattern could re-include a path below the excluded folder `dir`. */
function mayReinclude(patterns: Pattern[], dir: string): boolean {
  return patterns.some((p) => p.exclusion && (/[*?[\\]/.test(p.text) || p.text.startsWith(`${dir}/`)));
}

/** The files (and symlinks) of the build context at `dir`, relative, sorted. */
export function contextFiles(dir: string): string[] {
  const ignoreFile = join(dir, '.dockerignore');
  const patterns = existsSync(ignoreFile) ? parseDockerignore(readFileSync(ignoreFile, 'utf8')) : [];
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, path));
      const excluded = isExcluded(patterns, path);
      if (st.isDirectory()) {
        if (!excluded || mayReinclude(patterns, path)) walk(path);
      } else if (!excluded) {
        out.push(path);
      }
    }
  };
  walk('');
  return out.sort();
}

function sha256(path: string): string {
  const st = lstatSync(path);
  const h = createHash('sha256');
  // a symlink is copied as a link: its target is the content; the mode bits matter too
  if (st.isSymbolicLink()) h.update(`symlink:${readlinkSync(path)}`);
  else h.update(readFileSync(path)).update(`mode:${(st.mode & 0o777).toString(8)}`);
  return h.digest('hex');
}

/** `<sha256>  <path>` lines for the context at `dir` (what build-images.sh hashes). */
export function contextListing(dir: string): string {
  return contextFiles(dir)
    .map((f) => `${sha256(join(dir, f))}  ${f}\n`)
    .join('');
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(type\s+)?(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Runtime import specifiers of a TypeScript source (type-only imports are erased by node). */
export function runtimeImports(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) {
    if (m[1] !== undefined) continue;
    const spec = m[2] ?? m[3];
    if (spec !== undefined) out.push(spec);
  }
  return out;
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? spec);
}

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** Package folders (lock keys such as `node_modules/a/node_modules/b`) that `roots` need. */
export function packageClosure(lock: { packages: Record<string, LockEntry> }, roots: string[]): string[] {
  const seen = new Set<string>();
  const find = (from: string, name: string): string | undefined => {
    // node's lookup: the nearest node_modules folder walking up from the requiring package
    let base = from;
    for (;;) {
      const key = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
      if (lock.packages[key] !== undefined) return key;
      if (base === '') return undefined;
      const i = base.lastIndexOf('/node_modules/');
      base = i < 0 ? '' : base.slice(0, i);
    }
  };
  const visit = (key: string): void => {
    if (seen.has(key)) return;
    seen.add(key);
    const e = lock.packages[key] ?? {};
    const optionalPeers = new Set(
      Object.entries(e.peerDependenciesMeta ?? {})
        .filter(([, m]) => m.optional === true)
        .map(([n]) => n),
    );
    const wanted = [
      ...Object.keys(e.dependencies ?? {}).map((n) => ({ n, required: true })),
      ...Object.keys(e.optionalDependencies ?? {}).map((n) => ({ n, required: false })),
      ...Object.keys(e.peerDependencies ?? {}).map((n) => ({ n, required: !optionalPeers.has(n) })),
    ];
    for (const { n, required } of wanted) {
      const found = find(key, n);
      if (found !== undefined) visit(found);
      else if (required) throw new Error(`${key} needs ${n}, which package-lock.json does not hold`);
    }
  };
  for (const r of roots) {
    const key = find('', r);
    if (key === undefined) throw new Error(`package ${r} is not in package-lock.json`);
    visit(key);
  }
  return [...seen].sort();
}

/** Files and package folders (repo-relative) that `node <entry>` needs; see the header. */
export function runClosure(repo: string, entry: string): string[] {
  const files = new Set<string>();
  const packages = new Set<string>();
  const builtins = new Set(builtinModules);
  const queue = [resolve(repo, entry)];
  const entryDir = dirname(resolve(repo, entry));
  for (const name of readdirSync(entryDir)) {
    const p = join(entryDir, name);
    if (lstatSync(p).isFile() && !name.endsWith('.test.ts')) queue.push(p);
  }
  while (queue.length > 0) {
    const abs = queue.pop() ?? '';
    const rel = relative(repo, abs).split(sep).join('/');
    if (rel.startsWith('..')) throw new Error(`${entry} imports ${abs}, outside the repository`);
    if (files.has(rel)) continue;
    files.add(rel);
    if (!/\.[cm]?[jt]s$/.test(abs)) continue;
    for (const spec of runtimeImports(readFileSync(abs, 'utf8'))) {
      if (spec.startsWith('.')) queue.push(resolve(dirname(abs), spec));
      else if (!spec.startsWith('node:') && !builtins.has(spec)) packages.add(packageName(spec));
    }
  }
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  return [...[...files].sort(), ...packageClosure(lock, [...packages].sort())];
}

function main(argv: string[]): void {
  const [cmd, ...args] = argv;
  if (cmd === 'context' && args.length === 1) {
    process.stdout.write(contextListing(args[0] ?? '.'));
  } else if (cmd === 'closure' && args.length === 2) {
    process.stdout.write(
      runClosure(args[0] ?? '.', args[1] ?? '')
        .map((l) => `${l}\n`)
        .join(''),
    );
  } else {
    process.stderr.write('usage: context.ts context <dir> | closure <repo> <entry.ts>\n');
    process.exit(2);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2));
}
