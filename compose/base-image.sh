#!/usr/bin/env bash
# Print the base image to build on: the official Node image when the engine has it (or can pull
# it), else a stand-in made from this machine's own Node runtime with `docker import`.
#
#   NODE_IMAGE=$(compose/base-image.sh)        # e.g. node:20-bookworm-slim or playground/node-base:host
#   docker build --build-arg NODE_IMAGE="$NODE_IMAGE" -t replication-playground:dev .
#
# Why a stand-in: machines without access to a container registry (this project's CI) cannot
# pull node:20-bookworm-slim. The stand-in has the same layout the Dockerfile relies on
# (node and npm in /usr/local/bin, a POSIX shell, a `node` user with uid 1000, /tmp) and is
# labelled as a stand-in; it is never tagged with the official name, so nobody mistakes it.
# PLAYGROUND_PULL=1 tries `docker pull` of the official image first (off by default: this script
# serves machines that have no registry; on a laptop `docker compose build` pulls by itself).
set -euo pipefail

official="${OFFICIAL_NODE_IMAGE:-node:20-bookworm-slim}"
standin="${STANDIN_NODE_IMAGE:-playground/node-base:host}"

log() { printf '[base-image] %s\n' "$*" >&2; }

has_image() { docker image inspect "$1" >/dev/null 2>&1; }

if has_image "$official"; then echo "$official"; exit 0; fi
if [[ "${PLAYGROUND_PULL:-}" == 1 ]] && timeout 120 docker pull -q "$official" >/dev/null 2>&1; then
  echo "$official"; exit 0
fi
if has_image "$standin"; then echo "$standin"; exit 0; fi

log "no $official here and no registry: importing $standin from this machine's Node runtime"
node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(readlink -f "$(command -v npm)")")/.."
npm_dir="$(cd "$npm_dir" && pwd)"
[[ -f "$npm_dir/package.json" ]] || { log "cannot find npm's directory next to $(command -v npm)"; exit 1; }

rootfs="$(mktemp -d /tmp/playground-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

# Debian's merged /usr layout: /bin, /lib, /lib64 and /sbin point into /usr.
mkdir -p "$rootfs"/usr/{bin,sbin,lib,lib64,local/bin,local/lib/node_modules} \
         "$rootfs"/{etc/ssl/certs,root,home/node,tmp,proc,sys,dev}
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$rootfs/$d"; done
chmod 1777 "$rootfs/tmp"
chown 1000:1000 "$rootfs/home/node"

copy_with_libs() { # copy an executable to the same path inside the rootfs, plus what it links
  local src="$1" dst="${2:-$1}"
  mkdir -p "$rootfs$(dirname "$dst")"
  cp -L "$src" "$rootfs$dst"
  ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' | while read -r lib; do
    [[ -e "$rootfs$lib" ]] && continue
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
}

copy_with_libs "$node_bin" /usr/local/bin/node
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# A shell and the few tools a Dockerfile RUN line and a person debugging need.
copy_with_libs "$(readlink -f /bin/sh)" /usr/bin/sh
for tool in env mkdir chown chmod rm cp ln ls cat id sleep true false; do
  path="$(type -P "$tool")" && copy_with_libs "$(readlink -f "$path")" "/usr/bin/$tool"
done

cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000::/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
node:x:1000:
nogroup:x:65534:
EOF
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
# The host's trust store, so `npm ci` inside a build trusts what the host trusts (this machine
# reaches the npm registry through a proxy with its own certificate authority).
ca_env=()
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
  ca_env=(-c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
fi

tar --numeric-owner -C "$rootfs" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c "ENV NODE_VERSION=$("$node_bin" -p 'process.versions.node')" \
  "${ca_env[@]}" \
  -c 'CMD ["node"]' \
  -c "LABEL org.opencontainers.image.description=\"Stand-in for $official, made by compose/base-image.sh from the host's Node runtime\"" \
  - "$standin" >/dev/null
log "imported $standin ($(docker image inspect -f '{{.Size}}' "$standin" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$standin"
