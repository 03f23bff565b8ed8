#!/usr/bin/env bash
# Make a Docker engine and a compose command available, touching as little as possible.
#
#   compose/engine.sh start   # prints the pid of a dockerd it started, or "none" if one was running
#   compose/engine.sh stop PID  # stops that dockerd (and only that one); "none" does nothing
#
# `start` installs Debian's docker.io (+ docker-compose when no `docker compose` works) only when
# `docker info` fails and no dockerd binary exists, and starts dockerd only when none answers.
# Needs root for the install and for dockerd, as on the project's CI machines.
set -euo pipefail

log() { printf '[engine] %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

compose_available() {
  docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1
}

install_packages() {
  local pkgs=()
  command -v dockerd >/dev/null 2>&1 || pkgs+=(docker.io)
  compose_available || pkgs+=(docker-compose)
  ((${#pkgs[@]} == 0)) && return 0
  log "installing ${pkgs[*]} with apt-get (once per machine)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # --no-install-recommends keeps it to the engine itself (no git, no build tools).
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
}

start_engine() {
  if engine_answers; then
    install_packages
    echo none
    return 0
  fi
  install_packages
  local logfile="${DOCKERD_LOG:-/tmp/playground-dockerd.log}"
  # dockerd rewrites the host's firewall (NAT for its bridges, FORWARD policy DROP) and adds
  # a docker0 bridge, and leaves both behind when it stops: note the state to put back.
  local saved; saved="$(mktemp /tmp/playground-engine-iptables.XXXXXX)"
  iptables-save >"$saved" 2>/dev/null || : >"$saved"
  local had_docker0=no
  ip link show docker0 >/dev/null 2>&1 && had_docker0=yes
  log "starting dockerd (log: $logfile)"
  # setsid: its own session, so stopping a caller's process group does not take it down
  # half-way, and `stop` can signal exactly this pid.
  setsid dockerd >"$logfile" 2>&1 </dev/null &
  local pid=$!
  local deadline=$((SECONDS + 60))
  until engine_answers; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "dockerd exited; last lines of $logfile:"
      tail -n 20 "$logfile" >&2
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "dockerd did not answer within 60 s; last lines of $logfile:"
      tail -n 20 "$logfile" >&2
      kill "$pid" 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  mv "$saved" "/tmp/playground-engine-$pid.iptables"
  echo "$had_docker0" >"/tmp/playground-engine-$pid.docker0"
  echo "$pid"
}

stop_engine() {
  local pid="${1:-none}"
  [[ "$pid" == none ]] && return 0
  kill -0 "$pid" 2>/dev/null || return 0
  log "stopping the dockerd this run started (pid $pid)"
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      log "dockerd $pid still running after 30 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  restore_host "$pid"
}

# Put back the firewall as it was before this dockerd, and remove the docker0 bridge it made.
restore_host() {
  local pid="$1" saved="/tmp/playground-engine-$1.iptables" marker="/tmp/playground-engine-$1.docker0"
  if [[ -f "$saved" ]]; then
    if [[ -s "$saved" ]]; then
      iptables-restore <"$saved" || log "could not restore the firewall from $saved"
    else # nothing was there before: empty every table dockerd filled
      iptables -t nat -F && iptables -t nat -X
      iptables -t filter -F && iptables -t filter -X && iptables -P FORWARD ACCEPT
    fi
    rm -f "$saved"
  fi
  if [[ -f "$marker" ]]; then
    [[ "$(cat "$marker")" == no ]] && ip link delete docker0 2>/dev/null
    rm -f "$marker"
  fi
  return 0
}

case "${1:-}" in
  start) start_engine ;;
  stop) stop_engine "${2:-none}" ;;
  *) echo "usage: $0 start | stop <pid|none>" >&2; exit 2 ;;
esac
