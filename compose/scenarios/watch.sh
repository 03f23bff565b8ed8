#!/usr/bin/env bash
# One line per node, every second, until Ctrl-C:   watch.sh
# Shows whether it answers, its role/term/leader (Raft) and the count it would serve locally.
source "$(dirname "$0")/lib.sh"

while true; do
  printf '%s\n' "--- $(date +%T)"
  for n in "${NODES[@]}"; do
    s="$(status_of "$n")"
    if [[ -z "$s" ]]; then
      printf '  %s  down or unreachable\n' "$n"
      continue
    fi
    topo="$(json_field "$s" topology)"
    query=''; [[ "$topo" == raft ]] && query='?consistency=local'   # a stale-but-instant read
    count="$(curl -s -m 2 "$(url_of "$n")/count$query" | sed -n 's/.*"value":\(-\{0,1\}[0-9]*\).*/\1/p')"
    net=peers; on_peers_network "$n" || net='CUT OFF'
    printf '  %s  %-8s role=%-13s term=%-4s leader=%-4s count=%-6s network=%s\n' "$n" \
      "$topo" "$(json_field "$s" role)" \
      "$(sed -n 's/.*"term":\([0-9]*\).*/\1/p' <<<"$s")" "$(json_field "$s" leader)" "${count:-?}" "$net"
  done
  sleep 1
done
