# kgw operator image: `kgw operator` on Node 24, one bundled file, as a non-root user.
#   docker build -t kgw .
# Stages: `build` type-checks the shipped sources (tsc -p tsconfig.build.json) and bundles the
# operator with its dependencies into one file, dist/kgw.mjs (operator/gen/image-bundle.ts: at 1k
# KIngresses 7 MiB less RSS than ~1,000 separately loaded modules, bench/README.md); `jemalloc`
# fetches the allocator library; the final stage holds only the bundle, its source map, the bundled
# packages' licences and the library. No node_modules in the image.
#
# `npm install` with the lock file, not `npm ci`: npm 11.19 wrote a lock file without the other
# platforms' optional packages of @swc/core, which `npm ci` reports as missing; `npm install`
# installs exactly the locked versions. --ignore-scripts: no install script is needed here (the
# `node` devDependency would download a second Node binary; the image already has Node).

FROM node:24.21.0-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build

# jemalloc for the operator: glibc's malloc keeps most of the native memory freed after a burst
# inside its main heap (at 10k KIngresses 480 MB held, 127 MB in use); jemalloc with a short decay
# returns it (bench/rss.ts, settled: 280-291 -> 234 MiB at 1k, 892 -> 642 MiB at 10k). The package
# comes from the Debian suite of the pinned base image, which fixes its version (no `=version` pin).
FROM node:24.21.0-trixie-slim AS jemalloc
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libjemalloc2 \
    && cp /usr/lib/*-linux-gnu/libjemalloc.so.2 /libjemalloc.so.2 \
    && rm -rf /var/lib/apt/lists/*

FROM node:24.21.0-trixie-slim
# A small young generation: with V8's default (up to 128 MiB here) the operator's RSS at 1k
# KIngresses is ~420 MiB instead of ~280 MiB (bench/rss.ts), for no measurable speed gain.
# jemalloc: purge freed pages after 1 s from a background thread, one arena and no thread caches
# (operator-install.ts; vs two arenas with caches: idle 113-114 -> 110 MiB, 1k 136-137 -> 131 MiB,
# translate.ts/encode.ts at 10k not slower).
# --expose-gc: the operator runs one full GC when it goes quiet after a burst (operator/idle-gc.ts;
# bench/rss.ts at 1k KIngresses, settled: 191-221 -> 137 MiB).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-semi-space-size=8 --expose-gc" \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
    MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:1,tcache:false
WORKDIR /app
COPY --from=jemalloc /libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2
COPY --from=build /src/dist ./dist
# Files stay owned by root: the operator cannot modify its own code. The UID matches the
# Deployment's runAsUser (operator/gen/operator-install.ts OPERATOR_UID).
USER 65532:65532
# xDS (gRPC), admission webhooks (HTTPS), metrics, health probes.
EXPOSE 18000 9443 9090 8081
ENTRYPOINT ["node", "dist/kgw.mjs"]
CMD ["operator", "--runtime", "kubernetes"]
