#!/usr/bin/env bash
# Prepares this machine as a labfleet Docker host for the integration tests:
# installs the engine (and the OpenSSH client the handout test uses) from Debian, starts it,
# and makes the offline base image
# (debian:trixie-slim) that the node image and lab images build FROM, since no
# registry is reachable here. Every step is skipped when already done.
set -euo pipefail

log() { printf '[docker-host] %s\n' "$*"; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v debootstrap >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then
  log "installing docker.io, debootstrap and openssh-client from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap iptables openssh-client >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not start; see /var/log/dockerd.log"; tail -n 30 /var/log/dockerd.log; exit 1; }
fi

base=debian:trixie-slim
if ! docker image inspect "$base" >/dev/null 2>&1; then
  mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "building $base with debootstrap from $mirror"
  root=$(mktemp -d)
  debootstrap --variant=minbase trixie "$root" "$mirror" >/tmp/debootstrap.log 2>&1 || { tail -n 30 /tmp/debootstrap.log; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$root"
fi
log "ready: $(docker version --format 'engine {{.Server.Version}}') with $base"
