#!/usr/bin/env node
// kgw command line: `kgw operator` runs the operator. (The local demo, `npm run demo`, is a
// development script, test/e2e/demo.ts, that runs this command as a child process: kgw has no
// demo command.)
import { parseArgs } from 'node:util';
import { LEADER_LEASE_NAME, OPERATOR_NAMESPACE, OPERATOR_PORTS } from './api/install.ts';
import { newLogger } from './log.ts';

const usage = `Usage:
  kgw operator [--runtime local|kubernetes] [--kubeconfig <file>] [--log-level info]
               [--leader-elect] [--leader-elect-namespace <ns>] [--leader-elect-name <lease>]
               [--identity <id>] [--health-port <port>] [--metrics-port <port>]
               [--webhook-port <port>] [--webhook-cert-source self|mounted|cert-manager]
               [--webhook-issuer <ClusterIssuer>]
    local runtime:      [--envoy-bin <path>] [--work-dir <dir>] [--envoy-log-level warn]
                        [--xds-protocol delta|sotw] [--network-subnet <N>]
                        [--xds-socket <path>] [--xds-peer <path> ...]
    kubernetes runtime: [--xds-port 18000]  (in-cluster config unless --kubeconfig;
                        leader election on by default)
`;

async function operator(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      kubeconfig: { type: 'string' },
      runtime: { type: 'string', default: 'local' },
      'envoy-bin': { type: 'string', default: process.env.KGW_ENVOY_BIN ?? 'envoy' },
      'work-dir': { type: 'string' },
      'log-level': { type: 'string', default: process.env.KGW_LOG_LEVEL ?? 'info' },
      'envoy-log-level': { type: 'string', default: 'warn' },
      'xds-protocol': { type: 'string', default: 'delta' },
      'network-subnet': { type: 'string' },
      'xds-socket': { type: 'string' },
      'xds-peer': { type: 'string', multiple: true },
      'xds-port': { type: 'string', default: String(OPERATOR_PORTS.xds) },
      'health-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'webhook-port': { type: 'string' },
      'webhook-cert-source': { type: 'string' },
      'webhook-issuer': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'leader-elect-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? OPERATOR_NAMESPACE },
      'leader-elect-name': { type: 'string', default: LEADER_LEASE_NAME },
      identity: { type: 'string', default: process.env.POD_NAME },
    },
  });
  const log = newLogger('operator', values['log-level']);
  const runtime = values.runtime;
  if (runtime !== 'local' && runtime !== 'kubernetes')
    throw new Error('--runtime must be local or kubernetes');
  if (runtime === 'local' && !values.kubeconfig)
    throw new Error('--kubeconfig is required with --runtime local');
  const xdsProtocol = values['xds-protocol'];
  if (xdsProtocol !== 'delta' && xdsProtocol !== 'sotw')
    throw new Error('--xds-protocol must be delta or sotw');
  const int = (flag: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 65535)
      throw new Error(`--${flag} must be an integer (got ${v})`);
    return n;
  };
  const leaderElect = values['leader-elect'] ?? runtime === 'kubernetes';
  const healthPort =
    int('health-port', values['health-port']) ??
    (runtime === 'kubernetes' ? OPERATOR_PORTS.health : undefined);
  const metricsPort =
    int('metrics-port', values['metrics-port']) ??
    (runtime === 'kubernetes' ? OPERATOR_PORTS.metrics : undefined);
  const webhookPort =
    int('webhook-port', values['webhook-port']) ??
    (runtime === 'kubernetes' ? OPERATOR_PORTS.webhook : undefined);
  const certSource = values['webhook-cert-source'];
  if (
    certSource !== undefined &&
    certSource !== 'self' &&
    certSource !== 'mounted' &&
    certSource !== 'cert-manager'
  )
    throw new Error('--webhook-cert-source must be self, mounted or cert-manager');
  const issuer = values['webhook-issuer'];
  if (certSource === 'cert-manager' && !issuer)
    throw new Error('--webhook-cert-source cert-manager needs --webhook-issuer <ClusterIssuer>');
  const networkSubnet = int('network-subnet', values['network-subnet']);
  const xdsPort = int('xds-port', values['xds-port']);
  const { startOperator } = await import('./run.ts');
  const op = await startOperator({
    ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
    runtime,
    envoyBin: values['envoy-bin'],
    // In a cluster the root filesystem is read-only: /tmp is the pod's emptyDir.
    workDir: values['work-dir'] ?? (runtime === 'kubernetes' ? '/tmp/kgw' : '.kgw/operator'),
    envoyLogLevel: values['envoy-log-level'],
    xdsProtocol,
    log,
    ...(networkSubnet !== undefined ? { networkSubnet } : {}),
    ...(values['xds-socket'] ? { xdsSocket: values['xds-socket'] } : {}),
    ...(values['xds-peer'] ? { xdsPeers: values['xds-peer'] } : {}),
    ...(xdsPort !== undefined ? { xdsPort } : {}),
    ...(healthPort !== undefined ? { healthPort } : {}),
    ...(metricsPort !== undefined ? { metricsPort } : {}),
    ...(webhookPort !== undefined
      ? {
          webhook: {
            port: webhookPort,
            ...(certSource ? { certSource } : {}),
            ...(issuer ? { issuer } : {}),
          },
        }
      : {}),
    ...(leaderElect
      ? {
          leaderElection: {
            namespace: values['leader-elect-namespace'],
            name: values['leader-elect-name'],
            ...(values.identity ? { identity: values.identity } : {}),
          },
        }
      : {}),
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
    default:
      process.stderr.write(usage);
      process.exit(cmd ? 2 : 0);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`kgw: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
