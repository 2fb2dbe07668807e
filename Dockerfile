# Tally in a container:
#   docker build -t tally .
#   docker run -p 8080:8080 -v tally-data:/app/data -e TALLY_BOOTSTRAP_KEY="$(openssl rand -base64 32)" tally
# Every call but health needs an API key: the bootstrap key is an admin key
# to create the others with (docker exec ... node bin/tally.js keys create).
# Two stages: the first installs every dependency, which builds dist/ (npm
# ci runs the prepare script: tsc for the server, esbuild for the dashboard),
# then drops the dev dependencies; the second runs the compiled JavaScript
# with the production dependencies only: no tsx, no TypeScript, no C++
# toolchain (better-sqlite3's compiled addon is copied from the first), as
# the unprivileged user `node`. `npm run lint:dockerfile` lints this file.

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source. Debian's versions are not pinned: a
# point release replaces them, and this stage is thrown away.
# hadolint ignore=DL3008
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY gen/ts ./gen/ts
COPY gen/descriptors ./gen/descriptors
COPY clients/typescript/src ./clients/typescript/src
COPY src ./src
RUN npm ci && npm prune --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data

ENV NODE_ENV=production \
    TALLY_HOST=0.0.0.0 \
    TALLY_PORT=8080 \
    TALLY_DB=/app/data/tally.db
EXPOSE 8080
VOLUME /app/data
# The base image's unprivileged user node, by number so that a runtime
# checking runAsNonRoot can tell.
USER 1000:1000
# GET /healthz answers 200 while the server is serving and 503 once shutdown
# has begun (cleartext; with TLS settings, check with https instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.TALLY_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=64", "bin/tally.js", "serve"]
