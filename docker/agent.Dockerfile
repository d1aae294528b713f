# Gatehouse agent. Build from the repository root:  docker build -f docker/agent.Dockerfile -t gatehouse-agent .
# Register once into the config volume, then run:
#   docker run --rm -v gatehouse-agent:/etc/gatehouse gatehouse-agent register --hub https://hub.example.com \
#       --gateway ID --key KEY --allow https://intranet.example.com/ --config /etc/gatehouse/agent.json
#   docker run -d -v gatehouse-agent:/etc/gatehouse gatehouse-agent
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libkrb5-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
COPY test/package.json ./test/package.json
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
# krb5-user: kinit for Negotiate/Kerberos (WindowsGateway); mount /etc/krb5.conf for your realm.
RUN apt-get update && apt-get install -y --no-install-recommends krb5-user && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src /app
RUN mkdir -p /etc/gatehouse && chown node:node /etc/gatehouse && chmod 0700 /etc/gatehouse
USER node
VOLUME /etc/gatehouse
HEALTHCHECK --interval=15s --timeout=5s CMD ["node", "packages/agent/dist/main.js", "status", "--config", "/etc/gatehouse/agent.json"]
ENTRYPOINT ["node", "--min-semi-space-size=8", "--max-semi-space-size=8", "packages/agent/dist/main.js"]
CMD ["run", "--config", "/etc/gatehouse/agent.json"]
