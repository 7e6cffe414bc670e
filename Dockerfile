# tickring image: one image for every role (`tickring worker`, `sim`, `status`, `up`); the role is the
# command, e.g. `docker run tickring sim --host 0.0.0.0`. `docker-compose.yml` runs the demo cluster.

# ---- build: compile TypeScript with the dev dependencies -------------------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# `prepare` runs the build, which cannot work before the sources are copied; dependencies are installed
# on their own layer (cached until the lock file changes) and the build runs once, explicitly, below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY feeds ./feeds
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and the compiled output only --------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would try to build here, without TypeScript or the sources.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# The simulator's default universe as a file, for `--symbols-file` (see docker-compose.yml).
COPY docker/symbols.txt ./docker/symbols.txt
# The files stay root-owned and read-only to the process: tickring writes nothing to disk.
USER node
# 8080: a worker's HTTP API (TICKRING_HTTP_PORT); 9001: the simulator (`sim --port`).
EXPOSE 8080 9001
# A worker is healthy when its HTTP API answers. It listens on TICKRING_HTTP_HOST (default 127.0.0.1,
# and 0.0.0.0 also answers on loopback). Other roles override or disable this (see docker-compose.yml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const port = process.env.TICKRING_HTTP_PORT || process.env.PORT || 8080; fetch('http://127.0.0.1:' + port + '/healthz', { signal: AbortSignal.timeout(2000) }).then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1));"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["worker"]
