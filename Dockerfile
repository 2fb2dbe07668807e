# Tally in a container:
#   docker build -t tally .
#   docker run -p 8080:8080 -v tally-data:/app/data -e TALLY_BOOTSTRAP_KEY="$(openssl rand -base64 32)" tally
# Every call but health needs an API key: the bootstrap key is an admin key
# to create the others with (docker exec ... node bin/tally.js keys create).
# Two stages: the first installs every dependency, which builds dist/ (npm
# ci runs the prepare script: tsc for the server, esbuild for the dashboard),
# then drops the dev dependencies; the second runs the compiled JavaScript
# with the production dependencies only (no tsx, no TypeScript, no compiler).

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source.
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY scripts ./scripts
COPY gen/ts ./gen/ts
COPY src ./src
RUN npm ci && npm prune --omit=dev && npm cache clean --force

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data

ENV TALLY_HOST=0.0.0.0 \
    TALLY_PORT=8080 \
    TALLY_DB=/app/data/tally.db
EXPOSE 8080
VOLUME /app/data
USER node
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=64", "bin/tally.js", "serve"]
