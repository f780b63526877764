#!/usr/bin/env bash
# Prepares this machine as a labfleet Docker host (for `make up` and the integration tests):
# a running Docker engine, the OpenSSH client the handout test uses, and the offline base image
# (debian:trixie-slim) that the node image and lab images build FROM, since no registry is
# reachable here. Every step is skipped when already done: with the engine answering and the
# image there, it changes nothing.
#
# An installed dockerd (Debian's docker.io, or Docker CE) is only started, never reinstalled:
# apt would remove docker-ce and containerd.io to install docker.io over them. docker.io comes
# from Debian only where no dockerd is installed at all, and debootstrap only where the base
# image has to be made.
#   DOCKERD_LOG  where a dockerd started without systemd logs (default /var/log/dockerd.log)
set -euo pipefail

log() { printf '[docker-host] %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

apt_updated=
apt_install() {
  log "installing $* from Debian"
  [[ -n $apt_updated ]] || { apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

packages=()
if ! have dockerd; then
  packages+=(docker.io iptables)
  # An engine installed now has no images yet: the base image below will need debootstrap,
  # and one apt run is quicker than two.
  have debootstrap || packages+=(debootstrap)
fi
have ssh || packages+=(openssh-client)
((${#packages[@]} == 0)) || apt_install "${packages[@]}"

if docker info >/dev/null 2>&1; then
  log "the Docker engine answers: nothing to start"
else
  dockerd=$(command -v dockerd) || { log "no dockerd on PATH ($PATH) after installing docker.io"; exit 1; }
  # With systemd as PID 1 (sd_booted: /run/systemd/system) and a docker unit (Docker CE's, or
  # docker.io's), the engine is the unit's: start that, with its own configuration.
  if [[ -d /run/systemd/system ]] && systemctl cat docker.service >/dev/null 2>&1; then
    log "starting the installed dockerd ($dockerd) with \`systemctl start docker\` (its systemd unit)"
    show_log() { journalctl -u docker -n 30 --no-pager || true; }
    systemctl start docker || { log "systemctl start docker failed; its log:"; show_log; exit 1; }
  else
    dockerd_log=${DOCKERD_LOG:-/var/log/dockerd.log}
    log "starting the installed dockerd ($dockerd) in the background with nohup (no systemd unit to start; log: $dockerd_log)"
    show_log() { tail -n 30 "$dockerd_log"; }
    nohup dockerd >"$dockerd_log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not answer within 60 s; its log:"; show_log; exit 1; }
fi

base=debian:trixie-slim
if ! docker image inspect "$base" >/dev/null 2>&1; then
  have debootstrap || apt_install debootstrap
  mirror=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  log "building $base with debootstrap from $mirror"
  root=$(mktemp -d)
  debootstrap --variant=minbase trixie "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log"; log "debootstrap failed; its log: $root.log"; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import -c 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$root" "$root.log"
fi
log "ready: $(docker version --format 'engine {{.Server.Version}}') with $base"
