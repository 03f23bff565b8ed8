#!/usr/bin/env bash
# Undo every cut: reconnect each node to the peers network and clear every node's admin faults.
#   heal.sh
source "$(dirname "$0")/lib.sh"

healed=()
for n in "${NODES[@]}"; do
  docker inspect "$(container_of "$n")" >/dev/null 2>&1 || continue
  if ! on_peers_network "$n"; then
    reconnect_node "$n"
    healed+=("$n: back on the peers network")
  fi
  code="$(admin_heal "$n")"
  case "$code" in
    200 | 204) ;;
    000) healed+=("$n: does not answer (stopped? restart-node.sh $n)") ;;
    *) healed+=("$n: DELETE /admin/faults answered $code (is CLUSTER_SECRET the cluster's?)") ;;
  esac
done
echo "healed: network reconnected where cut, admin faults cleared on every answering node"
for line in "${healed[@]}"; do echo "  $line"; done

topology="$(topology_of_cluster)"
echo
echo "what to watch ($topology):"
case "$topology" in
  raft)
    cat <<EOF
  - One leader for everybody again (the highest term wins); a cut-off old leader steps down and
    its uncommitted entries are overwritten (Raft §5.3), so they were never acknowledged.
  - curl "$(url_of n1)/count?consistency=local" on every node converges to the same value:
    exactly the increments that were acknowledged (plus any 504s that did commit).
EOF
    ;;
  leaderless)
    cat <<EOF
  - Anti-entropy (a digest exchange every second) and read repair bring the cut-off replica up
    to date; curl "$(url_of n1)/count?r=3" then agrees everywhere, siblings merged: every
    acknowledged increment once (plus any 504 that did land).
EOF
    ;;
  crdt)
    cat <<EOF
  - Gossip merges both sides (pointwise max): every node's curl $(url_of n1)/count reaches the exact
    total of all increments accepted on either side, each counted once.
EOF
    ;;
esac
watch_hint
