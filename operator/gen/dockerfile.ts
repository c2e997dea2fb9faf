// A small Dockerfile reader: instructions with their arguments (continuation lines joined, comments
// and blank lines dropped) grouped by build stage. Enough for kgw's structural checks of its own
// Dockerfiles (the image Dockerfile and the OLM bundle.Dockerfile); not a full BuildKit parser.

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, … */
  keyword: string;
  /** The rest of the instruction, continuation lines joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** Image (or earlier stage) the stage starts from. */
  from: string;
  /** `AS name`, if any. */
  name?: string;
  /** Flags of FROM (e.g. --platform=…). */
  flags: string[];
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] ?? '';
    if (/^\s*(#|$)/.test(first)) continue;
    const start = i;
    let joined = first;
    while (/\\\s*$/.test(joined) && i + 1 < lines.length) {
      joined = joined.replace(/\\\s*$/, '');
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue; // comment lines inside a continuation are skipped
      joined += ` ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(joined);
    if (m === null) throw new Error(`line ${start + 1}: not an instruction: ${first}`);
    out.push({ keyword: (m[1] ?? '').toUpperCase(), args: (m[2] ?? '').trim(), line: start + 1 });
  }
  return out;
}

export function stages(instructions: readonly Instruction[]): Stage[] {
  const out: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const words = ins.args.split(/\s+/);
      const flags = words.filter((w) => w.startsWith('--'));
      const rest = words.filter((w) => !w.startsWith('--'));
      const stage: Stage = { from: rest[0] ?? '', flags, instructions: [] };
      if (rest.length >= 3 && rest[1]?.toUpperCase() === 'AS') stage.name = rest[2];
      out.push(stage);
    } else {
      const current = out[out.length - 1];
      if (current === undefined) {
        if (ins.keyword === 'ARG') continue; // ARG before the first FROM
        throw new Error(`line ${ins.line}: ${ins.keyword} before the first FROM`);
      }
      current.instructions.push(ins);
    }
  }
  return out;
}

/** The JSON array of an exec-form instruction (CMD/ENTRYPOINT/RUN), or undefined for shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}
