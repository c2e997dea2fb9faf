// Command-line entry for one test backend:
//   node test/backends/main.ts --kind <kind> --host <ip> --port <n> [--suffix <s>]
//        [--gateway <host:port>] [--target-host <host>]
// Prints `READY <host>:<port>` on stdout once listening, errors on stderr, and exits 0 on
// SIGTERM/SIGINT after closing its connections (bounded; forced exit after 5 s).
import { parseArgs } from 'node:util';
import { BACKEND_KINDS, isBackendKind, startBackend } from './server.ts';

const USAGE = `usage: main.ts --kind <${BACKEND_KINDS.join('|')}> --host <ip> --port <n> [--suffix <s>] [--gateway <host:port>] [--target-host <host>]`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kind: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '0' },
      suffix: { type: 'string', default: '' },
      gateway: { type: 'string' },
      'target-host': { type: 'string' },
    },
    strict: true,
  });
  const kind = values.kind ?? '';
  const port = Number(values.port);
  if (!isBackendKind(kind) || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(USAGE);
  }
  const backend = await startBackend({
    kind,
    host: values.host,
    port,
    suffix: values.suffix,
    ...(values.gateway !== undefined ? { gateway: values.gateway } : {}),
    ...(values['target-host'] !== undefined ? { targetHost: values['target-host'] } : {}),
    onError: (err) => console.error(`backend ${kind}: ${err.stack ?? err.message}`),
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 5000).unref();
    backend.close(2000).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`READY ${values.host}:${backend.port}\n`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(2);
});
