# syntax=docker/dockerfile:1
# DockStack: the agent (and the seed's nerve/synapse commands) with HAProxy, in one small image.
# BASE must provide node (20.x) and haproxy (2.6+); no stage needs npm, and docker/base-rootfs.sh's
# base carries none (no npm, npx or corepack in the image). No registry is needed:
#   docker/base-rootfs.sh base.tar && docker import base.tar dockstack-base:local
#   docker build --build-arg BASE=dockstack-base:local -t dockstack .
# The base is shell-less, so every RUN is exec-form.
ARG BASE=dockstack-base:local

FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# node_modules comes from the build context (npm ci ran there; no registry at build time). The
# sources are bundled here with its esbuild (scripts/build.mjs), then it is pruned to production
# dependencies (by package-lock.json's dev marks, no npm needed): the image runs dist/ with no tsx,
# no TypeScript, no esbuild and no sources.
COPY node_modules ./node_modules
COPY src ./src
COPY scripts/build.mjs scripts/prune-dev.mjs ./scripts/
RUN ["/usr/bin/node", "scripts/build.mjs"]
RUN ["/usr/bin/node", "scripts/prune-dev.mjs"]
COPY bin ./bin
COPY schemas ./schemas
COPY docker/healthcheck.js ./docker/healthcheck.js
# `dockstack` on PATH; the base has no /usr/bin/env, so the shebang names node itself.
RUN ["/usr/bin/node", "-e", "const fs = require('node:fs'); for (const d of ['/out/var/lib/dockstack/haproxy', '/out/etc/dockstack/manifests', '/out/usr/local/bin']) fs.mkdirSync(d, { recursive: true }); fs.symlinkSync('/app/bin/dockstack.js', '/out/usr/local/bin/dockstack'); const bin = '/app/bin/dockstack.js'; fs.writeFileSync(bin, fs.readFileSync(bin, 'utf8').replace(/^#!.*/, '#!/usr/bin/node')); fs.rmSync('/app/src', { recursive: true }); fs.rmSync('/app/scripts', { recursive: true })"]

FROM ${BASE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="dockstack" \
      org.opencontainers.image.description="Declarative SmartStack-style service discovery: register healthy services in ZooKeeper/etcd, route to them through a local HAProxy." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /app /app
COPY --from=build /out/usr/local/bin /usr/local/bin
# Volumes are created owned by the unprivileged user, so HAProxy's config/sockets and the agent's
# state are writable without root.
COPY --from=build --chown=10001:10001 /out/var/lib/dockstack /var/lib/dockstack
COPY --from=build --chown=10001:10001 /out/etc/dockstack/manifests /etc/dockstack/manifests
ENV NODE_ENV=production \
    DOCKSTACK_MANIFESTS=/etc/dockstack/manifests \
    DOCKSTACK_HAPROXY_DIR=/var/lib/dockstack/haproxy \
    DOCKSTACK_STATUS_ADDR=127.0.0.1:7070
VOLUME ["/etc/dockstack/manifests", "/var/lib/dockstack"]
WORKDIR /var/lib/dockstack
# HAProxy runs fine unprivileged for listeners >= 1024; use --user 0 (or CAP_NET_BIND_SERVICE) for
# lower ports, and for --docker (the Docker socket is root's).
USER 10001:10001
# The status API binds 127.0.0.1 by default. Never publish it on 0.0.0.0 without --status-token and
# --status-allowed-hosts (its reads are unauthenticated; the Host check stops DNS rebinding).
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/bin/node", "/app/docker/healthcheck.js"]
# node directly (not npx/npm): SIGTERM reaches the agent, which deregisters before exiting.
ENTRYPOINT ["/usr/bin/node", "/app/bin/dockstack.js"]
CMD ["agent"]
