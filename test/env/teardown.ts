// For a script that starts things one after another (a control plane, a network, processes) and
// must stop whatever it started, however far it got: a Teardown stack that each part joins as soon
// as it exists, and a Halt that ends the script's waits early (a signal, a child that died).

/** Stop steps run in reverse order of registration; a failing step does not skip the others. */
export class Teardown {
  private readonly steps: { what: string; stop: () => unknown }[] = [];

  /** Registers how to stop something that now exists. */
  add(what: string, stop: () => unknown): void {
    this.steps.push({ what, stop });
  }

  /** Runs (and forgets) every step, last registered first; resolves with the failures, `<what>: <message>`. */
  async run(): Promise<string[]> {
    const failures: string[] = [];
    for (let step = this.steps.pop(); step !== undefined; step = this.steps.pop()) {
      try {
        await step.stop();
      } catch (err) {
        failures.push(`${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return failures;
  }
}

/** A reason to stop early, given once (the first one counts), that waits can race against. */
export class Halt {
  private why: Error | undefined;
  private reject: (err: Error) => void = () => undefined;
  private readonly halted = new Promise<never>((_, reject) => {
    this.reject = reject;
  });

  constructor() {
    this.halted.catch(() => undefined); // nobody racing is fine
  }

  /** Halts with `why` unless already halted. */
  halt(why: Error): void {
    if (this.why !== undefined) return;
    this.why = why;
    this.reject(why);
  }

  /** The reason given first, if any. */
  reason(): Error | undefined {
    return this.why;
  }

  /** Throws the reason if halted. */
  check(): void {
    if (this.why !== undefined) throw this.why;
  }

  /** `p`'s outcome, or the reason if the halt comes first (also when it came before the call). */
  async race<T>(p: Promise<T>): Promise<T> {
    this.check();
    return Promise.race([p, this.halted]);
  }
}
