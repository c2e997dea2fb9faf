// The test cluster's container images: built by build-images.sh (buildah, no Docker engine, no
// registry) as docker-archive tarballs under `<cache>/images/<slug>.tar`, each rebuilt only when
// its inputs change. Tests call ensureImages() and import the tarballs into the cluster's
// containerd (`ctr -n k8s.io images import <tarball>`) under the names returned here.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../env/paths.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/** build-images.sh, which tests run (it only prints paths when everything is cached). */
export const BUILD_SCRIPT = join(here, 'build-images.sh');

/** What build-images.sh makes without arguments (knative and olm are opt-in: `ensureImages(['olm'])`). */
export const DEFAULT_SLUGS = ['base', 'node', 'kgw', 'envoy', 'pause', 'coredns', 'backends'] as const;
/** What `build-images.sh olm` makes (olm-images.sh). */
export const OLM_SLUGS = ['olm', 'opm', 'olm-bundle', 'olm-catalog'] as const;
export const KNATIVE_COMPONENTS = ['controller', 'activator', 'autoscaler', 'queue', 'webhook'] as const;
export const KNATIVE_TEST_IMAGES = [
  'runtime',
  'grpc-ping',
  'httpproxy',
  'retry',
  'timeout',
  'wsserver',
] as const;

/** One built image, as build-images.sh describes it in `<slug>.json`. */
export interface BuiltImage {
  slug: string;
  /** The image name inside the tarball (docker-archive RepoTags), e.g. `ghcr.io/kgw-dev/kgw:v0.1.0`. */
  name: string;
  tarball: string;
  /** sha256 of the inputs listed in `<slug>.inputs`. */
  hash: string;
  bytes: number;
  buildSeconds: number;
  builtAt: string;
  /**
   * `<repository>@sha256:<manifest digest>`, for the images imported under that name too (OCI
   * archives: olm-bundle, olm-catalog; OLM pulls images not named by digest with policy Always).
   */
  digestName?: string;
}

/** `<cache>/images`: tarballs, their descriptions and buildah's own storage. */
export function imagesDir(): string {
  return join(cacheDir(), 'images');
}

function isBuiltImage(v: unknown): v is BuiltImage {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.slug === 'string' &&
    typeof o.name === 'string' &&
    typeof o.tarball === 'string' &&
    typeof o.hash === 'string' &&
    typeof o.bytes === 'number' &&
    typeof o.buildSeconds === 'number' &&
    (o.digestName === undefined || typeof o.digestName === 'string')
  );
}

/** The images built so far (`<cache>/images/index.json`), by slug; empty if none. */
export function builtImages(): Record<string, BuiltImage> {
  const index = join(imagesDir(), 'index.json');
  if (!existsSync(index)) return {};
  const parsed = JSON.parse(readFileSync(index, 'utf8')) as { images?: unknown };
  const out: Record<string, BuiltImage> = {};
  for (const i of Array.isArray(parsed.images) ? (parsed.images as unknown[]) : []) {
    if (isBuiltImage(i)) out[i.slug] = i;
  }
  return out;
}

export interface EnsureResult {
  images: Record<string, BuiltImage>;
  /** Slugs that were rebuilt by this call (the others were cache hits). */
  rebuilt: string[];
  seconds: number;
  /** build-images.sh's progress lines. */
  log: string;
}

/**
 * Runs build-images.sh for `slugs` (default: everything but Knative) and returns the images.
 * Cached images cost a few seconds (hashing the inputs); cold, the whole set takes ~10 minutes on
 * two busy cores, Knative (`['all']` or `['knative']`) much longer.
 */
export function ensureImages(slugs: string[] = [], timeoutMs = 60 * 60_000): EnsureResult {
  const start = Date.now();
  const r = spawnSync('bash', [BUILD_SCRIPT, ...slugs], { encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) {
    const why = r.error?.message ?? `exit ${r.status ?? r.signal ?? '?'}`;
    throw new Error(`build-images.sh ${slugs.join(' ')} failed (${why}):\n${r.stderr.slice(-4000)}`);
  }
  const rebuilt = [...r.stderr.matchAll(/\] ([a-z0-9-]+): built /g)].map((m) => m[1] ?? '');
  return { images: builtImages(), rebuilt, seconds: (Date.now() - start) / 1000, log: r.stderr };
}

/** What `build-images.sh knative` leaves besides the images. */
export interface KnativeArtifacts {
  servingVersion: string;
  /** The knative.dev/networking version serving requires (the conformance suite's). */
  networkingVersion: string;
  /** Serving's `config/core` YAML, copied from the module, `ko://` image references kept. */
  configCore: string;
  /** `go test -c -tags=e2e knative.dev/networking/test/conformance/ingress`. */
  conformanceBinary: string;
  /** `ko://knative.dev/serving/cmd/<c>` → `kgw.test/knative/<c>:<version>`. */
  koImages: Record<string, string>;
}

/** The Knative artifacts, or undefined if `build-images.sh knative` has not run. */
export function knativeArtifacts(servingVersion = 'v0.42.2'): KnativeArtifacts | undefined {
  const dir = join(imagesDir(), `knative-${servingVersion}`);
  const mapping = join(dir, 'images.txt');
  if (!existsSync(mapping)) return undefined;
  const koImages: Record<string, string> = {};
  for (const line of readFileSync(mapping, 'utf8').split('\n')) {
    const [ko, name] = line.trim().split(/\s+/);
    if (ko !== undefined && name !== undefined) koImages[ko] = name;
  }
  return {
    servingVersion,
    networkingVersion: readFileSync(join(dir, 'networking-version'), 'utf8').trim(),
    configCore: join(dir, 'config', 'core'),
    conformanceBinary: join(dir, 'bin', 'ingress-conformance.test'),
    koImages,
  };
}

/** A setting of images.env (what build-images.sh reads), overridden by the environment. */
export function imageSetting(key: string): string {
  const env = process.env[key];
  if (env !== undefined && env !== '') return env;
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(join(here, 'images.env'), 'utf8'));
  if (m?.[1] === undefined) throw new Error(`no ${key} in the environment or test/cluster/images.env`);
  return m[1].trim();
}

/** What `build-images.sh olm` leaves besides the images (test/cluster/olm-images.sh). */
export interface OlmArtifacts {
  olmVersion: string;
  /** The operator-registry (opm) version OLM requires. */
  registryVersion: string;
  /** OLM's deploy/chart/crds (a directory) and deploy/upstream/quickstart/olm.yaml, from the module. */
  crds: string;
  olmYaml: string;
  /** The file-based catalog the catalog image serves. */
  catalogDir: string;
}

/** The OLM artifacts, or undefined if `build-images.sh olm` has not run. */
export function olmArtifacts(olmVersion = imageSetting('KGW_OLM_VERSION')): OlmArtifacts | undefined {
  const dir = join(imagesDir(), `olm-${olmVersion}`);
  const registryFile = join(dir, 'registry-version');
  if (!existsSync(registryFile)) return undefined;
  return {
    olmVersion,
    registryVersion: readFileSync(registryFile, 'utf8').trim(),
    crds: join(dir, 'deploy', 'crds'),
    olmYaml: join(dir, 'deploy', 'olm.yaml'),
    catalogDir: join(dir, 'catalog'),
  };
}

/** The tarball of `slug`, which must have been built (ensureImages). */
export function imageTarball(slug: string): string {
  const i = builtImages()[slug];
  if (i === undefined || !existsSync(i.tarball)) {
    throw new Error(`image ${slug} is not built: run bash test/cluster/build-images.sh`);
  }
  return i.tarball;
}

/** The image names an OCI archive's index gives containerd (`io.containerd.image.name`), with their digests. */
export function ociArchiveNames(tarball: string): { name: string; digest: string }[] {
  const index = JSON.parse(execFileSync('tar', ['-xOf', tarball, 'index.json'], { encoding: 'utf8' })) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  return index.manifests.map((m) => ({
    name: m.annotations?.['io.containerd.image.name'] ?? '',
    digest: m.digest,
  }));
}

/** The image names a docker-archive holds (RepoTags of its manifest.json). */
export function dockerArchiveTags(tarball: string): string[] {
  const manifest = JSON.parse(
    execFileSync('tar', ['-xOf', tarball, 'manifest.json'], { encoding: 'utf8' }),
  ) as {
    RepoTags?: string[] | null;
  }[];
  return manifest.flatMap((m) => m.RepoTags ?? []);
}

/** Environment that points buildah at build-images.sh's storage (never the machine's default). */
function buildahEnv(): NodeJS.ProcessEnv {
  const dir = imagesDir();
  return {
    ...process.env,
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
    CONTAINERS_REGISTRIES_CONF: join(dir, 'registries.conf'),
  };
}

function buildah(args: string[], timeoutMs = 300_000): string {
  return execFileSync('buildah', args, { encoding: 'utf8', env: buildahEnv(), timeout: timeoutMs }).trim();
}

/**
 * A working container made from a docker-archive tarball (no registry, no daemon): runs commands
 * as the image's user with `buildah run`, network `none`. remove() deletes it.
 */
export class ImageContainer {
  readonly id: string;

  /** `ociName`: for the OCI archives (olm-bundle, olm-catalog), the image of the archive to use. */
  constructor(tarball: string, ociName?: string) {
    const ref = ociName === undefined ? `docker-archive:${tarball}` : `oci-archive:${tarball}:${ociName}`;
    this.id = buildah(['from', '--pull=never', '--quiet', ref]);
  }

  /** Mounts the container's root filesystem (read it from the host); unmount with unmount(). */
  mount(): string {
    return buildah(['mount', this.id]);
  }

  unmount(): void {
    buildah(['umount', this.id]);
  }

  /** Runs argv to completion; never throws for a non-zero exit. */
  run(argv: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync('buildah', ['run', '--network=none', this.id, '--', ...argv], {
      encoding: 'utf8',
      env: buildahEnv(),
      timeout: timeoutMs,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Starts argv and resolves with its stdout once `pattern` appears (then stops it), or rejects. */
  async runUntil(argv: string[], pattern: RegExp, timeoutMs = 60_000): Promise<string> {
    const child = spawn('buildah', ['run', '--network=none', this.id, '--', ...argv], {
      env: buildahEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    try {
      return await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${String(pattern)} within ${timeoutMs} ms: ${err}`)),
          timeoutMs,
        );
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (pattern.test(out)) {
            clearTimeout(timer);
            resolve(out);
          }
        });
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`exited ${code ?? '?'} before ${String(pattern)}: ${err}`));
        });
      });
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        let timer: NodeJS.Timeout | undefined;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 10_000)))]);
        clearTimeout(timer);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
  }

  /** The image config's user (`buildah inspect`), e.g. `65532:65532`; '' for root by default. */
  user(): string {
    return buildah(['inspect', '--type', 'container', '--format', '{{.OCIv1.Config.User}}', this.id]);
  }

  remove(): void {
    buildah(['rm', this.id]);
  }
}
