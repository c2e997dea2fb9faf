// The test cluster's images, without any cluster: build-images.sh writes a docker-archive per
// image under the names the cluster will ask for, the images run (buildah run on a working
// container made from each tarball), and a second run rebuilds nothing.
// Opt-in and slow when cold (~10 min): npm run test:images.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENVOY_IMAGE } from '../../operator/api/knativegateway.ts';
import { ENVOY_UID } from '../../operator/fleets/fleet-names.ts';
import {
  DEFAULT_SLUGS,
  ImageContainer,
  KNATIVE_COMPONENTS,
  KNATIVE_TEST_IMAGES,
  OLM_SLUGS,
  builtImages,
  dockerArchiveTags,
  ensureImages,
  knativeArtifacts,
  ociArchiveNames,
  olmArtifacts,
  type BuiltImage,
} from './images.ts';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const read = (p: string): string => readFileSync(join(repo, p), 'utf8');

/** The names the cluster asks for, read here independently of build-images.sh. */
function expectedNames(): Record<string, RegExp | string> {
  const from = /^FROM\s+(\S+)/m.exec(read('Dockerfile'))?.[1] ?? '';
  const nodeName = from.includes('/') ? from : `docker.io/library/${from}`;
  const kgwName = /^[ \t]+image:[ \t]+(\S+)[ \t]*$/m.exec(read('deploy/kgw.yaml'))?.[1] ?? '';
  return {
    base: /^kgw\.test\/debian:[a-z]+-minbase$/,
    node: nodeName,
    kgw: kgwName,
    envoy: DEFAULT_ENVOY_IMAGE,
    pause: 'registry.k8s.io/pause:3.10.1',
    coredns: /^registry\.k8s\.io\/coredns\/coredns:v\d+\.\d+\.\d+$/,
    backends: /^kgw\.test\/backends:[0-9a-f]{12}$/,
  };
}

let images: Record<string, BuiltImage> = {};
let firstSeconds = 0;

beforeAll(() => {
  const r = ensureImages();
  images = r.images;
  firstSeconds = r.seconds;
  process.stderr.write(
    `build-images.sh: ${r.seconds.toFixed(1)} s, rebuilt: ${r.rebuilt.join(' ') || 'none'}\n`,
  );
}, 90 * 60_000);

describe('tarballs', () => {
  test.each([...DEFAULT_SLUGS])('%s: a docker-archive holding the expected name', (slug) => {
    const image = images[slug];
    expect(image).toBeDefined();
    if (image === undefined) return;
    expect(statSync(image.tarball).size).toBe(image.bytes);
    const want = expectedNames()[slug];
    expect(image.name).toMatch(
      want instanceof RegExp ? want : new RegExp(`^${want?.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
    );
    expect(dockerArchiveTags(image.tarball)).toEqual([image.name]);
  });
});

// Opt-in (bash test/cluster/build-images.sh knative, ~15 min cold): checked only when built.
const knative = knativeArtifacts();
const knativeDescribe = knative === undefined ? describe.skip : describe;
knativeDescribe('Knative (build-images.sh knative)', () => {
  const slugs = [
    ...KNATIVE_COMPONENTS.map((c) => `knative-${c}`),
    ...KNATIVE_TEST_IMAGES.map((t) => `knative-test-${t}`),
  ];

  test('an image per component and conformance test image, under the names the suite and the YAML use', () => {
    const built = builtImages();
    expect(slugs.filter((s) => built[s] === undefined)).toEqual([]);
    for (const c of KNATIVE_COMPONENTS) {
      const name = `kgw.test/knative/${c}:${knative?.servingVersion ?? '?'}`;
      expect(dockerArchiveTags(built[`knative-${c}`]?.tarball ?? '')).toEqual([name]);
      expect(knative?.koImages[`ko://knative.dev/serving/cmd/${c}`]).toBe(name);
    }
    for (const t of KNATIVE_TEST_IMAGES) {
      // -dockerrepo kgw.test/knative -tag conformance
      expect(dockerArchiveTags(built[`knative-test-${t}`]?.tarball ?? '')).toEqual([
        `kgw.test/knative/${t}:conformance`,
      ]);
    }
  });

  test("every ko:// reference in serving's config/core has an image", () => {
    const refs = new Set<string>();
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/\.ya?ml$/.test(e.name)) {
          for (const m of readFileSync(p, 'utf8').matchAll(/ko:\/\/[\w./-]+/g)) refs.add(m[0]);
        }
      }
    };
    walk(knative?.configCore ?? '');
    expect(refs.size).toBeGreaterThan(0);
    expect([...refs].filter((r) => knative?.koImages[r] === undefined)).toEqual([]);
  });

  test('the conformance binary lists the ingress conformance test', () => {
    const r = spawnSync(knative?.conformanceBinary ?? '', ['-test.list', '.*'], { encoding: 'utf8' });
    expect(r.stdout).toContain('TestIngressConformance');
  });

  test('the binaries run in their images (static, as 65532)', () => {
    const c = new ImageContainer(builtImages()['knative-queue']?.tarball ?? '');
    try {
      expect(c.user()).toBe('65532:65532');
      // without its environment the queue proxy says what is missing, which proves it runs
      const r = c.run(['/ko-app/queue']);
      expect(r.status).not.toBe(0);
      expect(r.stderr + r.stdout).toMatch(/required key|env|failed/i);
    } finally {
      c.remove();
    }
  }, 120_000);
});

// Opt-in (bash test/cluster/build-images.sh olm, ~7 min cold): checked only when built.
const olm = olmArtifacts();
const olmDescribe = olm === undefined ? describe.skip : describe;
olmDescribe('OLM (build-images.sh olm)', () => {
  test('olm and opm as docker-archives; the bundle and the catalog as OCI archives named by tag and by digest', () => {
    const built = builtImages();
    expect(OLM_SLUGS.filter((s) => built[s] === undefined)).toEqual([]);
    expect(dockerArchiveTags(built.olm?.tarball ?? '')).toEqual([
      `kgw.test/olm/olm:${olm?.olmVersion ?? '?'}`,
    ]);
    expect(dockerArchiveTags(built.opm?.tarball ?? '')).toEqual([
      `kgw.test/olm/opm:${olm?.registryVersion ?? '?'}`,
    ]);
    for (const slug of ['olm-bundle', 'olm-catalog']) {
      const image = built[slug];
      const names = ociArchiveNames(image?.tarball ?? '');
      expect(names).toHaveLength(2);
      const digest = names[0]?.digest ?? '';
      expect(names.map((n) => n.digest)).toEqual([digest, digest]);
      expect(names.map((n) => n.name)).toEqual([image?.name, image?.digestName]);
      expect(image?.digestName).toBe(`${image?.name.replace(/:[^:/]+$/, '') ?? ''}@${digest}`);
    }
    // the catalog refers to the bundle by digest (OLM's unpack Job then pulls nothing)
    const catalog = readFileSync(join(olm?.catalogDir ?? '', 'kgw', 'catalog.yaml'), 'utf8');
    expect(catalog).toContain(`\nimage: ${built['olm-bundle']?.digestName ?? '?'}\n`);
  });

  test("the bundle image holds bundle/ as it is; OLM's tools run in their images", () => {
    const built = builtImages();
    const bundle = new ImageContainer(built['olm-bundle']?.tarball ?? '', built['olm-bundle']?.name);
    const olmImage = new ImageContainer(built.olm?.tarball ?? '');
    const catalog = new ImageContainer(built['olm-catalog']?.tarball ?? '', built['olm-catalog']?.name);
    try {
      // FROM scratch with /manifests and /metadata: bundle/'s files, byte for byte
      const root = bundle.mount();
      try {
        for (const dir of ['manifests', 'metadata']) {
          const files = readdirSync(join(repo, 'bundle', dir)).sort();
          expect([dir, readdirSync(join(root, dir)).sort()]).toEqual([dir, files]);
          for (const f of files) {
            expect([f, readFileSync(join(root, dir, f), 'utf8') === read(`bundle/${dir}/${f}`)]).toEqual([
              f,
              true,
            ]);
          }
        }
        expect(readdirSync(root).sort()).toEqual(['manifests', 'metadata']);
      } finally {
        bundle.unmount();
      }
      // OLM's unpack Job copies its static cpb from the olm image (with /bin/cp) into the bundle's Pod
      const cpb = olmImage.run(['/bin/cpb', '--help']);
      expect(cpb.stdout + cpb.stderr).toMatch(/cpb|bundle/i);
      expect(olmImage.run(['/bin/cp', '--version']).status).toBe(0); // the unpack Job's util step
      expect(olmImage.run(['/bin/olm', '--version']).stdout).toContain(
        olm?.olmVersion.replace(/^v/, '') ?? '?',
      );
      expect(olmImage.run(['/bin/catalog', '--version']).status).toBe(0);
      const version = catalog.run(['/bin/opm', 'version'], 60_000);
      expect(version.stdout).toContain(olm?.registryVersion ?? '?');
      // the catalog validates as the image holds it
      expect(catalog.run(['/bin/opm', 'validate', '/configs'], 60_000).status).toBe(0);
      expect(catalog.run(['/bin/grpc_health_probe', '-version']).status).toBe(0);
    } finally {
      bundle.remove();
      olmImage.remove();
      catalog.remove();
    }
  }, 180_000);
});

describe('the images run', () => {
  const containers: ImageContainer[] = [];
  const from = (slug: string): ImageContainer => {
    const c = new ImageContainer(images[slug]?.tarball ?? `(no ${slug})`);
    containers.push(c);
    return c;
  };
  afterAll(() => {
    for (const c of containers) c.remove();
  });

  test('node stand-in: the pinned Node, npm, user node 1000', () => {
    const c = from('node');
    const pinned = (JSON.parse(read('node_modules/node/package.json')) as { version: string }).version;
    expect(c.run(['node', '--version']).stdout.trim()).toBe(`v${pinned}`);
    expect(c.run(['npm', '--version']).status).toBe(0);
    expect(c.run(['id', 'node']).stdout).toMatch(/^uid=1000\(node\) gid=1000\(node\)/);
  }, 120_000);

  test('kgw: node dist/kgw.mjs --help, as uid 65532, no node_modules', () => {
    const c = from('kgw');
    expect(c.user()).toBe('65532:65532');
    // the CLI has no --help of its own: an unknown command prints the usage and exits 2
    const r = c.run(['node', 'dist/kgw.mjs', '--help']);
    expect(r.stderr + r.stdout).toMatch(/Usage:\s+kgw operator/);
    expect(r.status).toBe(2);
    // the bundle loads (an import error would exit 1); its dependencies are inside it
    expect(r.stderr + r.stdout).not.toMatch(/ERR_MODULE_NOT_FOUND|SyntaxError/);
    expect(c.run(['test', '-e', '/app/node_modules']).status).not.toBe(0);
    expect(c.run(['test', '-s', '/app/dist/THIRD_PARTY_LICENSES']).status).toBe(0);
    // what the Dockerfile preloads
    expect(c.run(['test', '-f', '/usr/local/lib/libjemalloc.so.2']).status).toBe(0);
  }, 180_000);

  test('envoy: envoy --version, perl for the preStop hook, /bin/sh, the fleet pods uid', () => {
    const c = from('envoy');
    expect(c.user()).toBe(`${ENVOY_UID}:${ENVOY_UID}`);
    const version = /:v(\d+\.\d+\.\d+)$/.exec(DEFAULT_ENVOY_IMAGE)?.[1] ?? '?';
    const r = c.run(['envoy', '--version']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`/${version}/`);
    expect(c.run(['perl', '-e1']).status).toBe(0);
    expect(c.run(['perl', '-MIO::Socket::UNIX', '-e1']).status).toBe(0);
    expect(c.run(['/bin/sh', '-c', 'id -u && command -v sleep']).stdout).toBe(
      `${ENVOY_UID}\n/usr/bin/sleep\n`,
    );
    // the KnativeGateway CRD's envoy.image description asks for /bin/bash too
    expect(c.run(['/bin/bash', '-c', 'exit 0']).status).toBe(0);
  }, 120_000);

  test('pause: a static binary from scratch', () => {
    const r = from('pause').run(['/pause', '-v']);
    expect(r.stdout).toContain('pause');
    expect(r.status).toBe(0);
  }, 60_000);

  test('coredns: /coredns -version', () => {
    const r = from('coredns').run(['/coredns', '-version']);
    expect(r.stdout).toMatch(/CoreDNS-\d+\.\d+\.\d+/);
    expect(r.status).toBe(0);
  }, 60_000);

  test('backends: node test/backends/main.ts serves', async () => {
    const c = from('backends');
    expect(c.user()).toBe('1000:1000');
    const out = await c.runUntil(
      ['node', 'test/backends/main.ts', '--kind', 'runtime', '--host', '127.0.0.1', '--port', '8080'],
      /READY 127\.0\.0\.1:8080/,
    );
    expect(out).toContain('READY');
  }, 120_000);
});

test('a second run is a cache hit for every image', () => {
  const before = Object.fromEntries(Object.values(images).map((i) => [i.slug, statSync(i.tarball).mtimeMs]));
  const r = ensureImages();
  expect(r.rebuilt).toEqual([]);
  for (const slug of DEFAULT_SLUGS) {
    expect(r.log).toMatch(new RegExp(`\\] ${slug}: cached `));
    expect(statSync(r.images[slug]?.tarball ?? '').mtimeMs).toBe(before[slug]);
  }
  process.stderr.write(
    `warm build-images.sh: ${r.seconds.toFixed(1)} s (first run ${firstSeconds.toFixed(1)} s)\n`,
  );
  expect(r.seconds).toBeLessThan(60);
}, 300_000);
