#!/usr/bin/env bash
# Start a stopped or killed node again, on the same volume:   restart-node.sh [n1|n2|n3]  (default n3)
# Waits (at most 60 s) until it answers /status.
source "$(dirname "$0")/lib.sh"

node="${1:-n3}"
check_node_name "$node"
docker start "$(container_of "$node")" >/dev/null
echo "started: $node (same container, same volume /data)"
deadline=$((SECONDS + 60))
until [[ -n "$(status_of "$node")" ]]; do
  if ((SECONDS > deadline)); then
    echo "$node does not answer /status after 60 s; its last log lines:"
    docker logs --tail 20 "$(container_of "$node")" 2>&1
    exit 1
  fi
  sleep 0.5
done
echo "$node answers: $(status_of "$node")"
echo
echo "what to watch ($(topology_of_cluster)):"
cat <<EOF
  - It recovered its durable state from /data, then catches up from its peers:
    curl "$(url_of "$node")/count?consistency=local" (Raft) or curl $(url_of "$node")/count reaches the
    others' value; docker logs $(container_of "$node") says what it loaded.
EOF
watch_hint
