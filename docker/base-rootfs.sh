#!/usr/bin/env bash
# Assemble the runtime base image's root filesystem from this machine's own Node.js and HAProxy
# (with exactly the shared libraries they load, and nothing else: no npm, npx or corepack) into a
# reproducible tarball for `docker import`: no registry needed. Same host packages in, same bytes out (sorted, mtime 0, numeric root owner).
# Usage: docker/base-rootfs.sh OUT.tar   then   docker import OUT.tar dockstack-base:local
set -euo pipefail
out=${1:?usage: base-rootfs.sh OUT.tar}
node=$(command -v node)
haproxy=${HAPROXY_BIN:-/usr/sbin/haproxy}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

copy() { # copy a file keeping its absolute path (symlinks resolved)
  mkdir -p "$root$(dirname "$1")"
  cp -L "$1" "$root$1"
}
for bin in "$node" "$haproxy"; do
  copy "$bin"
  # ldd prints "lib => /path (addr)" and the loader as "/lib64/ld-linux… (addr)"
  for lib in $(ldd "$bin" | awk '/=> \//{print $3} /^\s*\/.*\(0x/{print $1}'); do copy "$lib"; done
done
mkdir -p "$root"/{tmp,etc}
chmod 1777 "$root/tmp"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\ndockstack:x:10001:10001:dockstack:/var/lib/dockstack:/usr/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\ndockstack:x:10001:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out" .
