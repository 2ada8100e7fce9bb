#!/usr/bin/env bash
# The demo: the agent on ./manifests with the embedded registry and a real HAProxy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh haproxy
exec node bin/dockstack.js agent --manifests manifests --registry memory:// --haproxy-dir .state/haproxy "$@"
