# One image for every node of every topology: the workspace and its node_modules; the topology,
# id, peers and secret come from the environment at run time (see compose/compose.yaml).
#
#   docker build -t replication-playground:dev .
#
# The nodes run TypeScript through packages/node/loader (esbuild, a dependency of @playground/node).
# NODE_IMAGE lets a machine without a registry build on a stand-in (compose/base-image.sh).
ARG NODE_IMAGE=node:20-bookworm-slim
FROM ${NODE_IMAGE}

WORKDIR /app

# Manifests first, so editing the sources does not re-run `npm ci`. One line per workspace:
# a new workspace needs its line here (the build fails at `npm ci` until it has one).
COPY package.json package-lock.json ./
COPY bench/package.json bench/
COPY packages/checkers/package.json packages/checkers/
COPY packages/core/package.json packages/core/
COPY packages/crdt/package.json packages/crdt/
COPY packages/leaderless/package.json packages/leaderless/
COPY packages/node/package.json packages/node/
COPY packages/raft/package.json packages/raft/
COPY packages/sim/package.json packages/sim/
COPY packages/storage/package.json packages/storage/
COPY packages/transport/package.json packages/transport/
RUN npm ci --no-audit --no-fund --loglevel=error \
 && npm cache clean --force \
 && rm -rf /root/.npm

COPY . .

# Durable state lives in /data (a named volume in compose); the node user owns it, and a fresh
# named volume takes this directory's owner when it is first mounted.
RUN mkdir -p /data && chown node:node /data

ENV HOST=0.0.0.0 \
    DATA_DIR=/data
USER node

HEALTHCHECK --interval=3s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "compose/healthcheck.mjs"]

# One process (no npm wrapper in between), so SIGTERM reaches the node directly and it
# flushes to disk before exiting. Same program as `npm run node`.
CMD ["node", "--import", "@playground/node/register", "packages/node/src/main.ts"]
