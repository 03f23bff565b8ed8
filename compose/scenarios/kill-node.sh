#!/usr/bin/env bash
# Kill a node with SIGKILL (no flush, no goodbye): kill-node.sh [n1|n2|n3|leader]   (default n3)
# The container stays dead (restart: "no") until restart-node.sh starts it again.
source "$(dirname "$0")/lib.sh"

node="${1:-n3}"
if [[ "$node" == leader ]]; then
  node="$(current_leader)"
  [[ -n "$node" ]] || die "no node names a leader (not Raft, or an election in progress)"
  echo "the leader is $node"
fi
check_node_name "$node"
mapfile -t others < <(others_of "$node")
docker kill --signal KILL "$(container_of "$node")" >/dev/null
echo "killed: $node (docker kill, SIGKILL); its volume keeps what it had made durable"
topology="$(topology_of_cluster)"
b="$(url_of "${others[0]}")"
echo
echo "what to watch ($topology):"
echo "  - curl $(url_of "$node")/status fails at once: the process is gone (docker ps -a shows it Exited (137))."
case "$topology" in
  raft) echo "  - ${others[*]} keep a majority: if $node led, a new leader within a few election timeouts; curl -X POST $b/incr works." ;;
  leaderless) echo "  - W=2 writes still succeed on ${others[*]}: curl -X POST \"$b/incr?w=2\"; their /status lists $node under \"unreachable\"." ;;
  crdt) echo "  - ${others[*]} keep accepting; $node's increments made before the kill stay in the others' state." ;;
esac
echo "  restart:    bash compose/scenarios/restart-node.sh $node"
watch_hint
