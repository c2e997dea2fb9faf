// `npm run gen`: writes every generated artifact (CRDs, samples, docs) from typed code.
// `npm run gen:check`: regenerates in memory and exits 1, listing each file that differs, is
// missing or is stale. `--out <dir>` writes to / checks another root (default: the repository).
import { generateAll, checkGenerated, repoRoot, writeGenerated } from './generate.ts';

interface Args {
  check: boolean;
  out: string;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { check: false, out: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') args.check = true;
    else if (a === '--out') args.out = argv[++i] ?? '';
    else if (a?.startsWith('--out=')) args.out = a.slice('--out='.length);
    else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node operator/gen/main.ts [--check] [--out <dir>]\n');
      process.exit(0);
    } else {
      process.stderr.write(`gen: unknown argument ${a ?? ''}\n`);
      process.exit(2);
    }
  }
  if (args.out === '') args.out = repoRoot();
  return args;
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  const files = generateAll();
  if (args.check) {
    const res = checkGenerated(args.out, files);
    const problems = [
      ...res.changed.map((p) => `  changed  ${p}`),
      ...res.missing.map((p) => `  missing  ${p}`),
      ...res.stale.map((p) => `  stale    ${p}`),
    ];
    if (problems.length > 0) {
      process.stderr.write(
        `gen:check: generated files are out of date (run \`npm run gen\`):\n${problems.join('\n')}\n`,
      );
      return 1;
    }
    process.stdout.write(`gen:check: ${files.length} generated files up to date\n`);
    return 0;
  }
  const touched = writeGenerated(args.out, files);
  for (const p of touched) process.stdout.write(`gen: wrote ${p}\n`);
  process.stdout.write(`gen: ${files.length} generated files, ${touched.length} updated\n`);
  return 0;
}

process.exitCode = main();
