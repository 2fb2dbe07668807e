# Tally in a container:
#   docker build -t tally .
#   docker run -p 8080:8080 -v tally-data:/app/data -e TALLY_BOOTSTRAP_KEY="$(openssl rand -base64 32)" tally
# Every call but health needs an API key: the bootstrap key is an admin key
# to create the others with (docker exec ... node bin/tally.js keys create).
# Two stages: the first builds the dashboard (esbuild is a dev dependency),
# the second installs only what the server runs.

FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY scripts ./scripts
COPY src ./src
COPY gen ./gen
RUN npm run build:web

FROM node:20-bookworm-slim
# better-sqlite3 compiles from source.
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY gen ./gen
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
