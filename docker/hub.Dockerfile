# Gatehouse hub. Build from the repository root:  docker build -f docker/hub.Dockerfile -t gatehouse-hub .
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ libkrb5-dev && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.base.json ./
COPY packages ./packages
COPY test/package.json ./test/package.json
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /src /app
RUN mkdir -p /data && chown node:node /data
USER node
ENV GATEHOUSE_LISTEN=0.0.0.0:8080 GATEHOUSE_DATABASE=sqlite:/data/gatehouse.db
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:8080/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--min-semi-space-size=8", "--max-semi-space-size=8", "packages/hub/dist/main.js"]
CMD ["serve"]
