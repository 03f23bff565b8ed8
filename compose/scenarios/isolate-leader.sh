#!/usr/bin/env bash
# Raft: cut the current leader off from its followers.   isolate-leader.sh [--admin]
# Asks every node's /status who leads, then runs isolate-node.sh on that node.
source "$(dirname "$0")/lib.sh"

topology="$(topology_of_cluster)"
[[ "$topology" == raft ]] || die "the $topology topology has no leader; use isolate-node.sh [n1|n2|n3]"
leader="$(current_leader)"
[[ -n "$leader" ]] || die "no node names a leader right now (an election in progress? try again in a second)"
echo "the leader is $leader"
exec "$(dirname "$0")/isolate-node.sh" "$@" "$leader"
