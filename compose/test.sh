#!/usr/bin/env bash
# The compose clusters, tested for real: bash compose/test.sh   (as root; ~5 min)
#
# For each topology (TEST_TOPOLOGIES="raft leaderless crdt"): bring up 3 containers, run the
# seed's curls, cut one node off at the network level (docker network disconnect), kill -9 and
# restart a node, kill -9 the whole cluster and restart it from its volumes, and check what the
# topology promises. Before that, bad input: a node without a secret, with a malformed peer list,
# and with peers that never come up.
#
# Installs and starts a Docker engine only when none answers, and stops only the one it started.
# Always tears down its containers, networks, volumes and the images it made (KEEP_IMAGES=1
# keeps the images for a faster next run). Docker's own output goes to a log printed on failure.
# Ends with "N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
started_at=$SECONDS
TOPOLOGIES=(${TEST_TOPOLOGIES:-raft leaderless crdt})
PROJECT=playground-test
export PLAYGROUND_IMAGE=replication-playground:test
export LOG; LOG="$(mktemp /tmp/playground-compose-test.XXXXXX.log)"
export RESULTS_FILE; RESULTS_FILE="$(mktemp /tmp/playground-compose-results.XXXXXX)"
export CLUSTER_SECRET; CLUSTER_SECRET="test-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"

source "$here/scenarios/lib.sh"
source "$here/test-lib.sh"
set +e +o pipefail; set -eu -o pipefail  # (lib.sh sets these too; state them here for the reader)

engine_pid=none
base_image=''
imported_base=no
failed_early=no

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi

compose() { # topology args...
  local topology="$1"; shift
  TOPOLOGY="$topology" NODE_IMAGE="$base_image" \
    "${COMPOSE[@]}" -p "$PROJECT" -f "$here/compose.yaml" "$@" >>"$LOG" 2>&1
}

teardown() {
  local status=$?
  set +e
  for t in raft leaderless crdt; do compose "$t" down -v --remove-orphans --timeout 5; done
  if [[ "${KEEP_IMAGES:-}" != 1 ]]; then
    docker image rm -f "$PLAYGROUND_IMAGE" >>"$LOG" 2>&1
    [[ "$imported_base" == yes ]] && docker image rm -f "$base_image" >>"$LOG" 2>&1
  fi
  local left
  left="$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; docker volume ls -q --filter name=playground-; docker network ls -q --filter name=playground-)"
  [[ -n "$left" ]] && echo "warning: left behind: $left"
  "$here/engine.sh" stop "$engine_pid"
  local passed failed
  passed="$(grep -c pass "$RESULTS_FILE" || true)"
  failed="$(grep -c fail "$RESULTS_FILE" || true)"
  [[ "$failed_early" == yes ]] && failed=$((failed + 1))
  if ((failed > 0 || status != 0)); then
    echo "--- last 60 lines of docker's output ($LOG):"
    tail -n 60 "$LOG"
  else
    rm -f "$LOG"
  fi
  rm -f "$RESULTS_FILE"
  echo "compose test took $((SECONDS - started_at)) s"
  echo "$passed passed, $failed failed"
  ((failed == 0 && status == 0)) || exit 1
}
trap teardown EXIT
trap 'exit 130' INT TERM

free_ports() { # three ports nobody listens on
  node -e '
    const net = require("node:net");
    const servers = [0, 1, 2].map(() => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", () => ok(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });'
}

# --- the engine and the images -------------------------------------------------------------
echo "compose test: engine"
engine_pid="$("$here/engine.sh" start 2>>"$LOG")" || { failed_early=yes; echo "  FAIL  no Docker engine"; exit 1; }
refuse_to_touch_others() {
  local c others=()
  for c in playground-n1 playground-n2 playground-n3; do
    docker inspect "$c" >/dev/null 2>&1 || continue
    [[ "$(docker inspect -f '{{index .Config.Labels "com.docker.compose.project"}}' "$c")" == "$PROJECT" ]] || others+=("$c")
  done
  if ((${#others[@]} > 0)); then
    failed_early=yes
    echo "  FAIL  a playground cluster is running here (${others[*]}); stop it first (cd compose && docker compose down)"
    trap - EXIT; "$here/engine.sh" stop "$engine_pid"; exit 1
  fi
}
refuse_to_touch_others
read -r P1 P2 P3 <<<"$(free_ports)"
export N1_PORT=$P1 N2_PORT=$P2 N3_PORT=$P3

echo "compose test: images"
t0=$SECONDS
docker image inspect playground/node-base:host >/dev/null 2>&1 || imported_base=maybe
base_image="$("$here/base-image.sh" 2>>"$LOG")"
[[ "$imported_base" == maybe && "$base_image" == playground/node-base:host ]] && imported_base=yes
[[ "$imported_base" == yes ]] || imported_base=no
docker build --build-arg NODE_IMAGE="$base_image" -t "$PLAYGROUND_IMAGE" "$root" >>"$LOG" 2>&1 \
  || { failed_early=yes; echo "  FAIL  docker build (see the log below)"; exit 1; }
pass "image built on $base_image in $((SECONDS - t0)) s ($(docker image inspect -f '{{.Size}}' "$PLAYGROUND_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"

# --- bad input -----------------------------------------------------------------------------
bad_input() {
  echo "compose test: bad input"
  local out code
  set +e
  out="$(docker run --rm --network none -e TOPOLOGY=raft -e NODE_ID=n1 -e PEERS=n1=n1.peers:8001 "$PLAYGROUND_IMAGE" 2>&1)"
  code=$?
  set -e
  { [[ $code -ne 0 ]] && grep -qi secret <<<"$out"; } \
    || fail "no secret: exit $code, output: $(head -c 300 <<<"$out")"
  pass "no secret: exits $code and says: $(grep -i secret <<<"$out" | head -n 1 | cut -c1-120)"

  set +e
  out="$(docker run --rm --network none -e TOPOLOGY=raft -e NODE_ID=n1 -e CLUSTER_SECRET=x -e 'PEERS=n1=n1.peers:8001,n2' "$PLAYGROUND_IMAGE" 2>&1)"
  code=$?
  set -e
  { [[ $code -eq 2 ]] && grep -q 'n2' <<<"$out"; } || fail "malformed peer list: exit $code, output: $(head -c 300 <<<"$out")"
  pass "malformed peer list: exits 2 and says: $(head -n 1 <<<"$out" | cut -c1-120)"

  # Peers that never come up: only n1 runs. It must stay up and its health check must name them.
  compose raft up -d --no-build n1
  wait_for 30 bash -c "docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' playground-n1 | grep -q ."
  local line; line="$(last_health_output n1)"
  { grep -q UNHEALTHY <<<"$line" && grep -q 'n2' <<<"$line"; } || fail "peers never up: health check says: $line"
  running n1 || fail "peers never up: n1 exited: $(docker logs --tail 5 playground-n1 2>&1)"
  pass "peers never up: n1 keeps running; health check says: $(cut -c1-150 <<<"$line")"
  compose raft down -v --remove-orphans --timeout 5
}

# --- one topology ----------------------------------------------------------------------------
up_and_seed() { # topology
  local t0=$SECONDS
  compose "$1" up -d --no-build
  wait_for 90 healthy n1 n2 n3 || fail "$1: not healthy within 90 s: $(for n in n1 n2 n3; do echo "$n: $(last_health_output "$n")"; done)"
  pass "$1: 3 containers healthy in $((SECONDS - t0)) s"
  local code; code="$(incr n1 '' "$(next_key)")"
  [[ "$code" == 200 ]] || fail "$1: seed: curl -X POST :8001/incr answered $code"
  ACKED=1
  local q=''; [[ "$1" == leaderless ]] && q='?r=2'
  wait_for 10 converged "$q" n2 || fail "$1: seed: curl :8002/count shows $(value_of n2 "$q"), expected 1"
  pass "$1: seed curls: POST n1/incr -> 200, GET n2/count -> 1"
}

partition_raft() {
  wait_for 10 leader_among n1 n2 n3 || fail "raft: no agreed leader"
  local leader; leader="$(current_leader)"
  mapfile -t majority < <(others_of "$leader")
  disconnect_node "$leader"
  incr_refused "$leader" ''
  [[ "$LAST_CODE" != 200 ]] || fail "raft: the cut-off leader $leader acknowledged an increment"
  local read; read="$(count_status "$leader" '')"
  [[ "$read" != 200 ]] || fail "raft: the cut-off leader $leader served a linearizable read"
  pass "raft: cut-off leader $leader refuses: POST /incr -> $LAST_CODE, GET /count -> $read"
  local t0=$SECONDS
  wait_for 20 leader_among "${majority[@]}" || fail "raft: the majority ${majority[*]} elected no leader in 20 s"
  local elected=$((SECONDS - t0)) i
  for i in 1 2 3 4 5; do incr_acked "${majority[$((i % 2))]}" '' 10 || fail "raft: majority did not acknowledge"; done
  pass "raft: majority ${majority[*]} elected $(current_leader) within ${elected} s and acknowledged 5 increments"
  reconnect_node "$leader"
  wait_for 30 leader_among n1 n2 n3 || fail "raft: no common leader 30 s after heal"
  wait_for 30 converged '?consistency=local' n1 n2 n3 \
    || fail "raft: after heal counts are $(values_line '?consistency=local' n1 n2 n3), expected $ACKED..$((ACKED + UNKNOWN))"
  converged '' n1 n2 n3 || fail "raft: linearizable reads after heal: $(values_line '' n1 n2 n3)"
  local v; v="$(value_of n1 '')"
  [[ "$v" == "$ACKED" ]] || fail "raft: count $v after heal, expected exactly the $ACKED acknowledged (the cut-off leader's entry must be discarded)"
  pass "raft: after heal every node counts exactly $v (= acknowledged)"
}

kill_restart_raft() {
  local leader; leader="$(current_leader)"
  mapfile -t majority < <(others_of "$leader")
  docker kill --signal KILL "$(container_of "$leader")" >>"$LOG"
  wait_for 20 leader_among "${majority[@]}" || fail "raft: no new leader 20 s after killing $leader"
  local i; for i in 1 2 3; do incr_acked "${majority[$((i % 2))]}" '' 10 || fail "raft: survivors did not acknowledge"; done
  docker start "$(container_of "$leader")" >>"$LOG"
  wait_for 60 healthy "$leader" || fail "raft: restarted $leader not healthy: $(last_health_output "$leader")"
  wait_for 30 converged '?consistency=local' n1 n2 n3 || fail "raft: after restart counts are $(values_line '?consistency=local' n1 n2 n3), expected $ACKED"
  pass "raft: killed leader $leader (SIGKILL); survivors acknowledged 3; restarted, it caught up to $ACKED"
}

partition_leaderless() {
  disconnect_node n3
  local i; for i in 1 2 3 4 5; do incr_acked n1 '?w=2' 10 || fail "leaderless: n1+n2 did not acknowledge w=2"; done
  incr_refused n3 '?w=2'
  [[ "$LAST_CODE" != 200 ]] || fail "leaderless: n3 alone acknowledged a w=2 increment"
  local v; v="$(value_of n1 '?r=2')"
  [[ "$v" == "$ACKED" ]] || fail "leaderless: r=2 read on the majority side shows $v, expected $ACKED"
  pass "leaderless: n3 cut off: majority acknowledged 5 w=2 increments and reads $v with r=2; n3 w=2 -> $LAST_CODE"
  reconnect_node n3
  wait_for 30 converged '?r=3' n1 n2 n3 || fail "leaderless: after heal r=3 reads are $(values_line '?r=3' n1 n2 n3), expected $ACKED..$((ACKED + UNKNOWN))"
  pass "leaderless: after heal every node reads $(value_of n3 '?r=3') with r=3 (acknowledged $ACKED, unknown $UNKNOWN)"
}

kill_restart_leaderless() {
  docker kill --signal KILL playground-n2 >>"$LOG"
  local i; for i in 1 2 3; do incr_acked n1 '?w=2' 10 || fail "leaderless: n1+n3 did not acknowledge w=2 with n2 dead"; done
  docker start playground-n2 >>"$LOG"
  wait_for 60 healthy n2 || fail "leaderless: restarted n2 not healthy: $(last_health_output n2)"
  wait_for 30 converged '?r=3' n1 n2 n3 || fail "leaderless: after restart r=3 reads are $(values_line '?r=3' n1 n2 n3), expected $ACKED"
  pass "leaderless: killed n2; w=2 continued on n1+n3; restarted, r=3 reads agree on $(value_of n2 '?r=3')"
}

partition_crdt() {
  wait_for 10 converged '' n1 n2 n3 || fail "crdt: seed not everywhere before the cut"
  local before=$ACKED i
  disconnect_node n3
  for i in 1 2 3; do incr_acked n1 '' 10 || fail "crdt: n1 refused during the partition"; done
  for i in 1 2; do incr_acked n3 '' 10 || fail "crdt: n3 (cut off) refused; a CRDT side must accept alone"; done
  local v1 v3; v1="$(value_of n1 '')"; v3="$(value_of n3 '')"
  [[ "$v1" == $((before + 3)) && "$v3" == $((before + 2)) ]] \
    || fail "crdt: during the cut n1=$v1 (expected $((before + 3))) n3=$v3 (expected $((before + 2)))"
  pass "crdt: n3 cut off: both sides accept; n1 sees $v1, n3 sees $v3"
  reconnect_node n3
  wait_for 30 converged '' n1 n2 n3 || fail "crdt: after heal counts are $(values_line '' n1 n2 n3), expected $ACKED"
  pass "crdt: after heal every node counts exactly $(value_of n2 '') (= acknowledged)"
}

kill_restart_crdt() {
  docker kill --signal KILL playground-n2 >>"$LOG"
  incr_acked n1 '' 10 || fail "crdt: n1 refused with n2 dead"
  incr_acked n3 '' 10 || fail "crdt: n3 refused with n2 dead"
  docker start playground-n2 >>"$LOG"
  wait_for 60 healthy n2 || fail "crdt: restarted n2 not healthy: $(last_health_output n2)"
  wait_for 30 converged '' n1 n2 n3 || fail "crdt: after restart counts are $(values_line '' n1 n2 n3), expected $ACKED"
  pass "crdt: killed n2; n1, n3 kept accepting; restarted, all count $ACKED"
}

# Every node killed at once, then started from its volume: nothing acknowledged may be lost.
whole_cluster_restart() { # topology
  local q=''; [[ "$1" == leaderless ]] && q='?r=3'
  docker kill --signal KILL playground-n1 playground-n2 playground-n3 >>"$LOG"
  docker start playground-n1 playground-n2 playground-n3 >>"$LOG"
  wait_for 90 healthy n1 n2 n3 || fail "$1: not healthy after restarting all: $(for n in n1 n2 n3; do echo "$n: $(last_health_output "$n")"; done)"
  wait_for 30 converged "$q" n1 n2 n3 || fail "$1: after killing all and restarting, counts are $(values_line "$q" n1 n2 n3), expected $ACKED"
  pass "$1: all 3 killed (SIGKILL) and restarted from their volumes: count $(value_of n1 "$q") (= acknowledged)"
}

run_topology() { # topology
  local t0=$SECONDS
  echo "compose test: $1"
  up_and_seed "$1"
  "partition_$1"
  "kill_restart_$1"
  whole_cluster_restart "$1"
  echo "  ($1 took $((SECONDS - t0)) s)"
}

# Each part runs in a subshell: a failed check ends that part, the next one still runs.
set +e
(set -e; bad_input)
for topology in "${TOPOLOGIES[@]}"; do
  (set -e; run_topology "$topology")
  [[ $? -eq 0 ]] || for n in n1 n2 n3; do
    echo "  --- docker logs $(container_of "$n") (last 15 lines)"
    docker logs --tail 15 "$(container_of "$n")" 2>&1 | sed 's/^/    /'
  done
  compose "$topology" down -v --remove-orphans --timeout 5
done
set -e
