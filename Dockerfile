# syntax=docker/dockerfile:1
# UGC Service image. One image, three roles, chosen by the command:
#   docker run IMAGE            -> api      (HTTP API on PORT, default 8000)
#   docker run IMAGE etl        -> etl      (Kafka -> ClickHouse loader; ops endpoint on ETL_HTTP_PORT)
#   docker run IMAGE migrate    -> migrate  (applies warehouse migrations and exits)
# Node 24 runs the TypeScript sources directly (type stripping): there is no build step, and the
# image holds src/, package*.json and the production node_modules only.
#
# Size: the production dependency `chdb` (the embedded ClickHouse behind WAREHOUSE=chdb, ~540 MB
# of native library in @chdb/lib-*) is kept. A production image that only uses WAREHOUSE=clickhouse
# could leave it out with a build arg, but not yet safely: src/composition.ts imports the chdb
# adapter statically, and chdb loads its native library on import, so without it every command
# would fail at start. Once the chdb adapter is imported lazily (only when WAREHOUSE=chdb), add
# `ARG WITH_CHDB=true` and `npm ci ... --omit=optional` (the @chdb/lib-* packages are optional
# dependencies of chdb) when it is false.

ARG NODE_IMAGE=node:24-slim

# ---- production dependencies ----------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# The lock file's versions, without devDependencies (among them `node@24`, which only exists to
# bring Node 24 to older developer machines). `npm install` rather than `npm ci`: the lock is
# written on our linux-x64 machines, whose registry mirror lacks chdb's other platform packages,
# so it cannot list them and `npm ci` would refuse it; `npm install` keeps every locked version
# and resolves only those optional platform packages. No install scripts: chdb's is a no-op and
# no other production dependency has one, so nothing is compiled at build time.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm install --omit=dev --ignore-scripts --no-audit --no-fund

# ---- the browser tracker's bundle (served at /tracker.js) -----------------------------------
# Built here rather than committed: esbuild alone, at the version package.json pins, into a stage
# whose only product is packages/tracker/dist (no TypeScript or devDependencies reach the image).
FROM ${NODE_IMAGE} AS tracker
WORKDIR /app
COPY package.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    mkdir /esbuild && cd /esbuild && \
    npm install --no-save --no-package-lock --no-audit --no-fund \
      "esbuild@$(node -p "require('/app/package.json').devDependencies.esbuild")" && \
    mv /esbuild/node_modules /app/node_modules
COPY packages/tracker ./packages/tracker
RUN node packages/tracker/build.ts

# ---- runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# HOST: every interface, so that published ports and the other containers reach the service (its
# own default is loopback, for a developer machine). LOG_FORMAT: ECS JSON for Filebeat even when
# the container has a terminal (`docker run -t`), where `auto` would print the console lines.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    LOG_FORMAT=json \
    PORT=8000 \
    ETL_HTTP_PORT=9464 \
    DATA_DIR=/app/data
WORKDIR /app
# Code and dependencies belong to root and are read-only for the service's user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src ./src
COPY --from=tracker /app/packages/tracker/dist ./packages/tracker/dist
# The only writable place (embedded backends, the development JWT secret); unused with the
# production backends. `node` (uid 1000) is the unprivileged user of the official Node image.
RUN mkdir -p /app/data && chown node:node /app/data
USER node

EXPOSE 8000 9464
# Liveness of the API. The etl process answers the same route on ETL_HTTP_PORT instead: compose
# overrides this check for it (and disables it for the one-shot migrate).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["node", "src/main.ts"]
CMD ["api"]
