// Binary lookup: cache conventions, env overrides and the error that points at setup.sh.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  apiserverBin,
  cacheDir,
  envoyBin,
  etcdBin,
  k8sBin,
  pinnedVersions,
  prometheusBin,
  promtoolBin,
} from './paths.ts';

const KEYS = [
  'KGW_CACHE_DIR',
  'XDG_CACHE_HOME',
  'KGW_ENVOY_BIN',
  'KGW_APISERVER_BIN',
  'KGW_ETCD_BIN',
  'KGW_ENVOY_VERSION',
  'KGW_KUBELET_BIN',
  'KGW_PROMETHEUS_BIN',
  'KGW_PROMTOOL_BIN',
];

describe('paths', () => {
  const saved: Record<string, string | undefined> = {};
  let dir: string;
  beforeEach(() => {
    for (const k of KEYS) saved[k] = process.env[k];
    for (const k of KEYS) delete process.env[k];
    dir = mkdtempSync(join(tmpdir(), 'kgw-paths-'));
  });
  afterEach(() => {
    for (const k of KEYS) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads pinned versions from versions.env', () => {
    const v = pinnedVersions();
    expect(v.KGW_K8S_VERSION).toMatch(/^v1\.\d+\.\d+$/);
    expect(v.KGW_ENVOY_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('uses KGW_CACHE_DIR, then XDG_CACHE_HOME/kgw', () => {
    process.env.XDG_CACHE_HOME = '/x';
    expect(cacheDir()).toBe('/x/kgw');
    process.env.KGW_CACHE_DIR = '/y';
    expect(cacheDir()).toBe('/y');
  });

  it('finds binaries in the cache layout of setup.sh', () => {
    process.env.KGW_CACHE_DIR = dir;
    const v = pinnedVersions();
    for (const [sub, name] of [
      [`envoy-${v.KGW_ENVOY_VERSION}`, 'envoy'],
      [`k8s-${v.KGW_K8S_VERSION}`, 'kube-apiserver'],
    ] as const) {
      mkdirSync(join(dir, sub));
      writeFileSync(join(dir, sub, name), '#!/bin/sh\n', { mode: 0o755 });
    }
    expect(envoyBin()).toBe(join(dir, `envoy-${v.KGW_ENVOY_VERSION}`, 'envoy'));
    expect(apiserverBin()).toBe(join(dir, `k8s-${v.KGW_K8S_VERSION}`, 'kube-apiserver'));
  });

  it('finds the cluster binaries beside kube-apiserver and points at setup-node.sh when missing', () => {
    process.env.KGW_CACHE_DIR = dir;
    const sub = join(dir, `k8s-${pinnedVersions().KGW_K8S_VERSION}`);
    expect(() => k8sBin('kubelet')).toThrow(/KGW_KUBELET_BIN.*test\/cluster\/setup-node\.sh/);
    mkdirSync(sub);
    writeFileSync(join(sub, 'kubelet'), '#!/bin/sh\n', { mode: 0o755 });
    expect(k8sBin('kubelet')).toBe(join(sub, 'kubelet'));
  });

  it('finds Prometheus and promtool where setup.sh builds them, and fails clearly without them', () => {
    process.env.KGW_CACHE_DIR = dir;
    const v = pinnedVersions().KGW_PROMETHEUS_VERSION;
    expect(v).toMatch(/^v0\.3\d\d\.\d+$/);
    expect(() => prometheusBin()).toThrow(
      /prometheus not found.*KGW_PROMETHEUS_BIN.*bash test\/env\/setup\.sh/,
    );
    expect(() => promtoolBin()).toThrow(/promtool not found.*KGW_PROMTOOL_BIN.*bash test\/env\/setup\.sh/);
    for (const name of ['prometheus', 'promtool']) {
      mkdirSync(join(dir, `${name}-${v}`));
      writeFileSync(join(dir, `${name}-${v}`, name), '#!/bin/sh\n', { mode: 0o755 });
    }
    expect(prometheusBin()).toBe(join(dir, `prometheus-${v}`, 'prometheus'));
    expect(promtoolBin()).toBe(join(dir, `promtool-${v}`, 'promtool'));
  });

  it('says to run setup.sh when a binary is missing', () => {
    process.env.KGW_CACHE_DIR = dir;
    expect(() => envoyBin()).toThrow(/bash test\/env\/setup\.sh/);
    expect(() => apiserverBin()).toThrow(/KGW_APISERVER_BIN/);
  });

  it('honours overrides and rejects a non-executable one', () => {
    const fake = join(dir, 'fake-etcd');
    writeFileSync(fake, '#!/bin/sh\n', { mode: 0o755 });
    process.env.KGW_ETCD_BIN = fake;
    expect(etcdBin()).toBe(fake);
    process.env.KGW_ENVOY_BIN = join(dir, 'nope');
    expect(() => envoyBin()).toThrow(/KGW_ENVOY_BIN=.*nope is not an executable/);
  });
});
