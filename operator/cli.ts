#!/usr/bin/env node
// kgw command line: `kgw operator` runs the operator; `kgw demo` runs a self-contained demo.
import { parseArgs } from 'node:util';
import { newLogger } from './log.ts';

const usage = `Usage:
  kgw operator --kubeconfig <file> [--runtime local] [--envoy-bin <path>] [--work-dir <dir>]
               [--log-level info] [--envoy-log-level warn] [--xds-protocol delta|sotw]
  kgw demo     [--keep-running]
`;

async function operator(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      runtime: { type: 'string', default: 'local' },
      'envoy-bin': { type: 'string', default: process.env.KGW_ENVOY_BIN ?? 'envoy' },
      'work-dir': { type: 'string', default: '.kgw/operator' },
      'log-level': { type: 'string', default: process.env.KGW_LOG_LEVEL ?? 'info' },
      'envoy-log-level': { type: 'string', default: 'warn' },
      'xds-protocol': { type: 'string', default: 'delta' },
    },
  });
  const log = newLogger('operator', values['log-level']);
  if (!values.kubeconfig) throw new Error('--kubeconfig is required');
  const xdsProtocol = values['xds-protocol'];
  if (xdsProtocol !== 'delta' && xdsProtocol !== 'sotw')
    throw new Error('--xds-protocol must be delta or sotw');
  if (values.runtime !== 'local') throw new Error(`--runtime ${values.runtime}: only "local" is implemented`);
  const { startOperator } = await import('./run.ts');
  const op = await startOperator({
    kubeconfig: values.kubeconfig,
    runtime: 'local',
    envoyBin: values['envoy-bin'],
    workDir: values['work-dir'],
    envoyLogLevel: values['envoy-log-level'],
    xdsProtocol,
    log,
  });
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    void op.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

async function main(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  switch (cmd) {
    case 'operator':
      return operator(rest);
    case 'demo': {
      const { demo } = await import('./demo.ts');
      return demo(rest);
    }
    default:
      process.stderr.write(usage);
      process.exit(cmd ? 2 : 0);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kgw: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
