#!/usr/bin/env bash
# Cut one node off from its peers.   isolate-node.sh [--admin] [n1|n2|n3]   (default n3)
#
# Default: a real network cut (docker network disconnect from playground-peers). --admin: the
# same cut through the contract's fault API (POST /admin/faults on every node), as the bench
# harness does it. Either way clients still reach the node on its published port.
source "$(dirname "$0")/lib.sh"

via="network"
if [[ "${1:-}" == --admin ]]; then via="admin"; shift; fi
node="${1:-n3}"
check_node_name "$node"
mapfile -t others < <(others_of "$node")
topology="$(topology_of_cluster)"

if [[ "$via" == network ]]; then
  disconnect_node "$node"
  echo "cut: $node is off the peers network (docker network disconnect $PEERS_NETWORK $(container_of "$node"))"
else
  code="$(admin_post_faults "$node" "{\"partition\":[\"${others[0]}\",\"${others[1]}\"],\"mode\":\"blackhole\"}")"
  [[ "$code" == 200 ]] || die "POST /admin/faults on $node answered $code (is CLUSTER_SECRET the cluster's?)"
  for o in "${others[@]}"; do
    code="$(admin_post_faults "$o" "{\"partition\":[\"$node\"],\"mode\":\"blackhole\"}")"
    [[ "$code" == 200 ]] || die "POST /admin/faults on $o answered $code"
  done
  echo "cut: $node and ${others[*]} drop each other's peer messages (POST /admin/faults, blackhole)"
fi

a="$(url_of "$node")"; b="$(url_of "${others[0]}")"
echo
echo "what to watch ($topology):"
case "$topology" in
  raft)
    cat <<EOF
  - $node is a minority of one: it cannot commit. curl -i -X POST $a/incr answers 503
    (surely not applied) or 504 (unknown: it may still commit later, through a new leader, if
    the entry reached a majority before the cut; retry with the same Idempotency-Key).
  - ${others[*]} are a majority: if $node was the leader they elect a new one within a few
    election timeouts; then curl -X POST $b/incr succeeds and curl $b/count counts it.
  - $node keeps trying to start an election. With Pre-Vote (Raft dissertation §9.6; /status
    shows role=pre-candidate) it first asks whether it could win, so its term does not climb
    and it cannot depose the majority's leader when the cut heals.
  - Its health turns unhealthy after three failed checks (~10 s): docker ps shows it.
EOF
    ;;
  leaderless)
    cat <<EOF
  - ${others[*]} still form a write quorum: curl -X POST "$b/incr?w=2" answers 200 ("acks": 2).
  - $node alone cannot: curl -i -X POST "$a/incr?w=2" answers 503; with ?w=1 it accepts, and
    curl "$b/count?r=2" does not see that increment until heal (anti-entropy, read repair).
  - curl $b/status lists $node under "unreachable".
EOF
    ;;
  crdt)
    cat <<EOF
  - Both sides accept: curl -X POST $a/incr and curl -X POST $b/incr both answer 200.
  - The counts differ: curl $a/count vs curl $b/count (each sees only its side's increments).
  - After heal.sh they converge to the exact total; nothing is lost or counted twice.
EOF
    ;;
  *) echo "  (no node answered /status; is the cluster up? docker compose ps)" ;;
esac
echo "  heal:       bash compose/scenarios/heal.sh"
watch_hint
