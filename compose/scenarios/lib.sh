# shellcheck shell=bash
# Shared by the scenario scripts (sourced, not run). Needs docker and curl on the host.
# Names match compose.yaml (repository root): containers playground-n1..n3, network playground-peers
# (PLAYGROUND_NAME replaces "playground"), published ports N1_PORT..N3_PORT (default
# 8001..8003), secret CLUSTER_SECRET (the development default when unset).
set -euo pipefail

NODES=(n1 n2 n3)
NAME_PREFIX="${PLAYGROUND_NAME:-playground}"
PEERS_NETWORK="$NAME_PREFIX-peers"
SECRET="${CLUSTER_SECRET:-dev-only-insecure-cluster-secret}"

container_of() { echo "$NAME_PREFIX-$1"; }

port_of() {
  case "$1" in
    n1) echo "${N1_PORT:-8001}" ;;
    n2) echo "${N2_PORT:-8002}" ;;
    n3) echo "${N3_PORT:-8003}" ;;
    *) die "unknown node '$1' (expected n1, n2 or n3)" ;;
  esac
}

url_of() { echo "http://127.0.0.1:$(port_of "$1")"; }

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

check_node_name() { port_of "$1" >/dev/null; }

# GET /status of a node, or nothing if it does not answer within 2 s.
status_of() { curl -s -m 2 "$(url_of "$1")/status" 2>/dev/null || true; }

# A string field of a compact JSON object: json_field '{"leader":"n2"}' leader -> n2
json_field() { sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p" <<<"$1" | head -n 1; }

topology_of_cluster() {
  local n s
  for n in "${NODES[@]}"; do
    s="$(status_of "$n")"
    [[ -n "$s" ]] && { json_field "$s" topology; return 0; }
  done
  echo unknown
}

# The leader most nodes name (Raft); empty when none is named.
current_leader() {
  local n s
  for n in "${NODES[@]}"; do
    s="$(status_of "$n")"
    [[ -n "$s" ]] && json_field "$s" leader
  done | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}'
}

on_peers_network() {
  docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}' "$(container_of "$1")" 2>/dev/null \
    | tr ' ' '\n' | grep -qx "$PEERS_NETWORK"
}

# The network-level cut: the container leaves the peers network (its interface there is gone,
# its name n?.peers stops resolving); it stays on the clients network, so you can still curl it.
disconnect_node() {
  local n="$1"
  if on_peers_network "$n"; then
    docker network disconnect "$PEERS_NETWORK" "$(container_of "$n")"
  fi
}

reconnect_node() {
  local n="$1"
  if ! on_peers_network "$n"; then
    docker network connect --alias "$n.peers" "$PEERS_NETWORK" "$(container_of "$n")"
  fi
}

# The admin-level cut (contract: POST /admin/faults): the node drops its own peer traffic.
admin_post_faults() { # node json
  curl -s -m 3 -o /dev/null -w '%{http_code}' -X POST "$(url_of "$1")/admin/faults" \
    -H "Authorization: Bearer $SECRET" -H 'Content-Type: application/json' -d "$2" || true
}

admin_heal() {
  curl -s -m 3 -o /dev/null -w '%{http_code}' -X DELETE "$(url_of "$1")/admin/faults" \
    -H "Authorization: Bearer $SECRET" || true
}

others_of() { local n; for n in "${NODES[@]}"; do if [[ "$n" != "$1" ]]; then echo "$n"; fi; done; }

watch_hint() {
  cat <<EOF
  watch it:   bash compose/scenarios/watch.sh          (role, leader, count of every node, each second)
  health:     docker ps --format '{{.Names}}\t{{.Status}}'
  why:        docker inspect --format '{{range .State.Health.Log}}{{.Output}}{{end}}' $(container_of n1)
EOF
}
