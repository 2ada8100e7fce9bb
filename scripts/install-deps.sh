#!/usr/bin/env bash
# Installs the real servers the tests run against, from Debian's packages, without letting
# Debian start its own copies (tests start theirs on ephemeral loopback ports).
# Usage: scripts/install-deps.sh [all|haproxy]   (idempotent; skips apt when everything is there)
set -euo pipefail
want=${1:-all}
declare -A bins=(
  [haproxy]=/usr/sbin/haproxy
  [zookeeper]=/usr/share/java/zookeeper.jar
  [etcd-server]=/usr/bin/etcd
  [etcd-client]=/usr/bin/etcdctl
  [mariadb-server]=/usr/sbin/mariadbd
  [redis-server]=/usr/bin/redis-server
  [default-jre-headless]=/usr/bin/java
  [diffutils]=/usr/bin/diff
  [procps]=/usr/bin/pkill
  [docker.io]=/usr/sbin/dockerd
  [chromium]=/usr/bin/chromium
  [iproute2]=/usr/sbin/ip
  [iptables]=/usr/sbin/iptables
)
pkgs=()
for pkg in "${!bins[@]}"; do
  [[ $want == haproxy && $pkg != haproxy ]] && continue
  [[ -e ${bins[$pkg]} ]] || pkgs+=("$pkg")
done
((${#pkgs[@]} == 0)) && exit 0
echo "installing Debian packages: ${pkgs[*]}" >&2
SUDO=; [[ $(id -u) == 0 ]] || SUDO=sudo
# Keep Debian's maintainer scripts from starting the packaged services.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
$SUDO chmod +x /usr/sbin/policy-rc.d
trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
