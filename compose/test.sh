#!/usr/bin/env bash
# The compose clusters, tested for real: bash compose/test.sh   (as root; ~4 min)
#
# For each topology (TEST_TOPOLOGIES="raft leaderless crdt"): bring up 3 containers, run the
# seed's curls, cut one node off at the network level (docker network disconnect), kill -9 and
# restart a node, kill -9 the whole cluster and restart it from its volumes, and check what the
# topology promises; then the bench harness (npm run bench -- --endpoints) against the
# containers. Before that, bad input: a node without a secret, with a malformed peer list, and
# with peers that never come up. Its cluster is named playground-test-* on free ports, so a
# playground cluster of yours, running or stopped, is left alone.
#
# Installs and starts a Docker engine only when none answers, and stops only the one it started.
# Always tears down its containers, networks, volumes and the images it made (KEEP_IMAGES=1
# keeps the images for a faster next run). Docker's own output goes to a log printed on failure.
# Ends with "N passed, M failed"; exits non-zero if anything failed.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
started_at=$SECONDS
read -r -a TOPOLOGIES <<<"${TEST_TOPOLOGIES:-raft leaderless crdt}"
PROJECT=playground-test
export PLAYGROUND_NAME=playground-test   # its own containers, networks and volumes: never yours
export PLAYGROUND_IMAGE=replication-playground:test
export LOG; LOG="$(mktemp /tmp/playground-compose-test.XXXXXX.log)"
export RESULTS_FILE; RESULTS_FILE="$(mktemp /tmp/playground-compose-results.XXXXXX)"
export CLUSTER_SECRET; CLUSTER_SECRET="test-$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"

source "$here/scenarios/lib.sh"
source "$here/test-lib.sh"

engine_pid=none
base_image=''
imported_base=no

if docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose); else COMPOSE=(docker-compose); fi

compose() { # topology args...
  local topology="$1"; shift
  TOPOLOGY="$topology" NODE_IMAGE="$base_image" \
    "${COMPOSE[@]}" -p "$PROJECT" -f "$here/../compose.yaml" "$@" >>"$LOG" 2>&1
}

teardown() {
  local status=$?
  set +e
  # Docker's output up to here; teardown's own (image removals) would bury it.
  local log_lines; log_lines="$(wc -l <"$LOG")"
  for t in raft leaderless crdt; do compose "$t" down -v --remove-orphans --timeout 5; done
  # Images this test built earlier and a rebuild left untagged.
  docker image prune -f --filter label=playground.compose-test=1 >>"$LOG" 2>&1
  if [[ "${KEEP_IMAGES:-}" != 1 ]]; then
    docker image rm -f "$PLAYGROUND_IMAGE" >>"$LOG" 2>&1
    [[ "$imported_base" == yes ]] && docker image rm -f "$base_image" >>"$LOG" 2>&1
  fi
  local left
  left="$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT"; docker volume ls -q --filter "name=$PLAYGROUND_NAME-"; docker network ls -q --filter "name=$PLAYGROUND_NAME-")"
  [[ -n "$left" ]] && echo "warning: left behind: $left"
  "$here/engine.sh" stop "$engine_pid"
  local passed failed
  passed="$(grep -c '^pass' "$RESULTS_FILE" || true)"
  failed="$(grep -c '^fail' "$RESULTS_FILE" || true)"
  if ((failed > 0 || status != 0)); then
    echo "--- last 60 lines of docker's output before teardown ($LOG):"
    head -n "$log_lines" "$LOG" | tail -n 60
  else
    rm -f "$LOG"
  fi
  echo "compose test took $((SECONDS - started_at)) s"
  # Repeated last, where a truncated CI log still shows them.
  grep '^fail' "$RESULTS_FILE" | sed 's/^fail /  FAIL/'
  rm -f "$RESULTS_FILE"
  echo "$passed passed, $failed failed"
  ((failed == 0 && status == 0)) || exit 1
}
part_pid=''
on_signal() {
  echo "  interrupted: tearing down"
  [[ -n "$part_pid" ]] && kill -TERM "$part_pid" 2>/dev/null
  exit 130
}
trap teardown EXIT
trap on_signal INT TERM

free_ports() { # three ports nobody listens on
  node -e '
    const net = require("node:net");
    const servers = [0, 1, 2].map(() => net.createServer());
    Promise.all(servers.map((s) => new Promise((ok) => s.listen(0, "127.0.0.1", () => ok(s.address().port)))))
      .then((ports) => { console.log(ports.join(" ")); servers.forEach((s) => s.close()); });'
}

# --- the engine and the images -------------------------------------------------------------
echo "compose test: engine"
engine_pid="$("$here/engine.sh" start 2>>"$LOG")" || fail "no Docker engine"
read -r P1 P2 P3 <<<"$(free_ports)"
export N1_PORT=$P1 N2_PORT=$P2 N3_PORT=$P3

echo "compose test: images"
t0=$SECONDS
docker image inspect playground/node-base:host >/dev/null 2>&1 || imported_base=maybe
base_image="$("$here/base-image.sh" 2>>"$LOG")"
[[ "$imported_base" == maybe && "$base_image" == playground/node-base:host ]] && imported_base=yes
[[ "$imported_base" == yes ]] || imported_base=no
docker build --label playground.compose-test=1 --build-arg NODE_IMAGE="$base_image" -t "$PLAYGROUND_IMAGE" "$root" >>"$LOG" 2>&1 \
  || fail "docker build (see the log below)"
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
  out="$(docker run --rm --network none -e TOPOLOGY=raft -e NODE_ID=n1 -e CLUSTER_SECRET=a-long-enough-secret -e 'PEERS=n1=n1.peers:8001,n2' "$PLAYGROUND_IMAGE" 2>&1)"
  code=$?
  set -e
  { [[ $code -eq 2 ]] && grep -q 'n2' <<<"$out"; } || fail "malformed peer list: exit $code, output: $(head -c 300 <<<"$out")"
  pass "malformed peer list: exits 2 and says: $(head -n 1 <<<"$out" | cut -c1-120)"

  # Peers that never come up: only n1 runs. It must stay up and its health check must name them.
  compose raft up -d --no-build n1
  wait_for 30 last_health_output n1
  local line; line="$(last_health_output n1)"
  { grep -q UNHEALTHY <<<"$line" && grep -q 'n2' <<<"$line"; } || fail "peers never up: health check says: $line"
  running n1 || fail "peers never up: n1 exited: $(docker logs --tail 5 "$(container_of n1)" 2>&1)"
  pass "peers never up: n1 keeps running; health check says: $(cut -c1-150 <<<"$line")"
}

# --- one topology ----------------------------------------------------------------------------
up_and_seed() { # topology
  local t0=$SECONDS
  compose "$1" up -d --no-build
  wait_for 90 healthy n1 n2 n3 || fail "$1: not healthy within 90 s: $(for n in n1 n2 n3; do echo "$n: $(last_health_output "$n")"; done)"
  pass "$1: 3 containers healthy in $((SECONDS - t0)) s"
  next_key
  local code; code="$(incr n1 '' "$KEY")"
  [[ "$code" == 200 ]] || fail "$1: seed: curl -X POST :8001/incr answered $code"
  ACKED=1
  local q=''; [[ "$1" == leaderless ]] && q='?r=2'
  wait_for 10 converged "$q" n2 || fail "$1: seed: curl :8002/count shows $(value_of n2 "$q"), expected 1"
  pass "$1: seed curls: POST n1/incr -> 200, GET n2/count -> 1"
}

# The scenario scripts are what a student runs; the test drives the cluster through them.
scenario() { "$here/scenarios/$1" "${@:2}" >>"$LOG" 2>&1; }

partition_raft() {
  wait_for 10 leader_among n1 n2 n3 || fail "raft: no agreed leader"
  local leader; leader="$(current_leader)"
  mapfile -t majority < <(others_of "$leader")
  local cut_at_ms; cut_at_ms="$(date +%s%3N)"
  scenario isolate-leader.sh
  wait_for 20 leader_among "${majority[@]}" || fail "raft: the majority ${majority[*]} elected no leader in 20 s"
  local elected_ms=$(($(date +%s%3N) - cut_at_ms)) i
  incr_refused "$leader" ''
  [[ "$LAST_CODE" != 200 ]] || fail "raft: the cut-off leader $leader acknowledged an increment"
  local read; read="$(count_status "$leader" '')"
  [[ "$read" != 200 ]] || fail "raft: the cut-off leader $leader served a linearizable read"
  pass "raft: isolate-leader.sh cut $leader off the network; it refuses: POST /incr -> $LAST_CODE, GET /count -> $read"
  for i in 1 2 3 4 5; do incr_acked "${majority[$((i % 2))]}" '' 10 || fail "raft: majority did not acknowledge"; done
  pass "raft: majority ${majority[*]} had leader $(current_leader) ${elected_ms} ms after the cut and acknowledged 5 increments"
  scenario heal.sh
  wait_for 30 leader_among n1 n2 n3 || fail "raft: no common leader 30 s after heal"
  wait_for 30 converged '?consistency=local' n1 n2 n3 \
    || fail "raft: after heal counts are $(values_line '?consistency=local' n1 n2 n3), expected $ACKED..$((ACKED + UNKNOWN))"
  converged '' n1 n2 n3 || fail "raft: linearizable reads after heal: $(values_line '' n1 n2 n3)"
  local v; v="$(value_of n1 '')"
  [[ "$v" == "$ACKED" ]] || fail "raft: count $v after heal, expected exactly the $ACKED acknowledged (the cut-off leader's entry must be discarded)"
  pass "raft: heal.sh: every node counts exactly $v (= acknowledged)"

  # The same kind of cut through the admin fault API (what the bench harness uses): a follower.
  local followers follower
  mapfile -t followers < <(others_of "$(current_leader)")
  follower="${followers[0]}"
  scenario isolate-node.sh --admin "$follower"
  incr_refused "$follower" ''
  [[ "$LAST_CODE" != 200 ]] || fail "raft: follower $follower, cut off by /admin/faults, acknowledged an increment"
  incr_acked "$(current_leader)" '' 10 || fail "raft: the leader's majority did not acknowledge with $follower cut off"
  scenario heal.sh
  wait_for 30 converged '?consistency=local' n1 n2 n3 \
    || fail "raft: after the admin heal counts are $(values_line '?consistency=local' n1 n2 n3), expected $ACKED"
  pass "raft: isolate-node.sh --admin $follower: it refuses ($LAST_CODE), the majority goes on; heal.sh: all count $ACKED"
}

kill_restart_raft() {
  local leader; leader="$(current_leader)"
  mapfile -t majority < <(others_of "$leader")
  scenario kill-node.sh leader
  wait_for 20 leader_among "${majority[@]}" || fail "raft: no new leader 20 s after killing $leader"
  local i; for i in 1 2 3; do incr_acked "${majority[$((i % 2))]}" '' 10 || fail "raft: survivors did not acknowledge"; done
  scenario restart-node.sh "$leader"
  wait_for 60 healthy "$leader" || fail "raft: restarted $leader not healthy: $(last_health_output "$leader")"
  wait_for 30 converged '?consistency=local' n1 n2 n3 || fail "raft: after restart counts are $(values_line '?consistency=local' n1 n2 n3), expected $ACKED"
  pass "raft: kill-node.sh leader ($leader, SIGKILL); survivors acknowledged 3; restart-node.sh: it caught up to $ACKED"
}

partition_leaderless() {
  scenario isolate-node.sh n3
  local i; for i in 1 2 3 4 5; do incr_acked n1 '?w=2' 10 || fail "leaderless: n1+n2 did not acknowledge w=2"; done
  incr_refused n3 '?w=2'
  [[ "$LAST_CODE" != 200 ]] || fail "leaderless: n3 alone acknowledged a w=2 increment"
  local v; v="$(value_of n1 '?r=2')"
  [[ "$v" == "$ACKED" ]] || fail "leaderless: r=2 read on the majority side shows $v, expected $ACKED"
  pass "leaderless: isolate-node.sh n3: majority acknowledged 5 w=2 increments and reads $v with r=2; n3 w=2 -> $LAST_CODE"
  scenario heal.sh
  wait_for 30 converged '?r=3' n1 n2 n3 || fail "leaderless: after heal r=3 reads are $(values_line '?r=3' n1 n2 n3), expected $ACKED..$((ACKED + UNKNOWN))"
  pass "leaderless: heal.sh: every node reads $(value_of n3 '?r=3') with r=3 ($(tally))"
}

kill_restart_leaderless() {
  scenario kill-node.sh n2
  local i; for i in 1 2 3; do incr_acked n1 '?w=2' 10 || fail "leaderless: n1+n3 did not acknowledge w=2 with n2 dead"; done
  scenario restart-node.sh n2
  wait_for 60 healthy n2 || fail "leaderless: restarted n2 not healthy: $(last_health_output n2)"
  wait_for 30 converged '?r=3' n1 n2 n3 || fail "leaderless: after restart r=3 reads are $(values_line '?r=3' n1 n2 n3), expected $ACKED"
  pass "leaderless: kill-node.sh n2: w=2 went on through n1+n3; restart-node.sh n2: r=3 reads agree on $(value_of n2 '?r=3') ($(tally))"
}

partition_crdt() {
  wait_for 10 converged '' n1 n2 n3 || fail "crdt: seed not everywhere before the cut"
  local before=$ACKED i
  scenario isolate-node.sh n3
  for i in 1 2 3; do incr_acked n1 '' 10 || fail "crdt: n1 refused during the partition"; done
  for i in 1 2; do incr_acked n3 '' 10 || fail "crdt: n3 (cut off) refused; a CRDT side must accept alone"; done
  local v1 v3; v1="$(value_of n1 '')"; v3="$(value_of n3 '')"
  [[ "$v1" == $((before + 3)) && "$v3" == $((before + 2)) ]] \
    || fail "crdt: during the cut n1=$v1 (expected $((before + 3))) n3=$v3 (expected $((before + 2)))"
  pass "crdt: isolate-node.sh n3: both sides accept; n1 sees $v1, n3 sees $v3"
  scenario heal.sh
  wait_for 30 converged '' n1 n2 n3 || fail "crdt: after heal counts are $(values_line '' n1 n2 n3), expected $ACKED"
  ((UNKNOWN == 0)) || fail "crdt: $UNKNOWN increments were not acknowledged; both sides must accept"
  pass "crdt: heal.sh: every node counts exactly $(value_of n2 '') ($(tally))"
}

kill_restart_crdt() {
  scenario kill-node.sh n2
  incr_acked n1 '' 10 || fail "crdt: n1 refused with n2 dead"
  incr_acked n3 '' 10 || fail "crdt: n3 refused with n2 dead"
  scenario restart-node.sh n2
  wait_for 60 healthy n2 || fail "crdt: restarted n2 not healthy: $(last_health_output n2)"
  wait_for 30 converged '' n1 n2 n3 || fail "crdt: after restart counts are $(values_line '' n1 n2 n3), expected $ACKED"
  pass "crdt: kill-node.sh n2: n1, n3 kept accepting; restart-node.sh n2: all count $ACKED ($(tally))"
}

# Every node killed at once, then started from its volume: nothing acknowledged may be lost.
whole_cluster_restart() { # topology
  local q=''; [[ "$1" == leaderless ]] && q='?r=3'
  local all; all=("$(container_of n1)" "$(container_of n2)" "$(container_of n3)")
  docker kill --signal KILL "${all[@]}" >>"$LOG"
  docker start "${all[@]}" >>"$LOG"
  wait_for 90 healthy n1 n2 n3 || fail "$1: not healthy after restarting all: $(for n in n1 n2 n3; do echo "$n: $(last_health_output "$n")"; done)"
  wait_for 30 converged "$q" n1 n2 n3 || fail "$1: after killing all and restarting, counts are $(values_line "$q" n1 n2 n3), expected $ACKED"
  pass "$1: all 3 killed (SIGKILL) and restarted from their volumes: count $(value_of n1 "$q") ($(tally))"
}

# The bench harness against the running containers: its workload, its fault schedule through
# the admin API, its checkers. Needs the host's node_modules (npm ci).
bench_against_cluster() { # topology
  if [[ ! -d "$root/node_modules/esbuild" ]]; then
    echo "  skip  $1: bench --endpoints (no node_modules on the host: run npm ci)"
    return 0
  fi
  local out dir; dir="$(mktemp -d /tmp/playground-compose-bench.XXXXXX)"
  out="$(cd "$root" && timeout 120 npm run -s bench -- --topology "$1" --scenario isolate-one --duration 6 \
    --connections 0 --out "$dir" --secret "$CLUSTER_SECRET" \
    --endpoints "n1=$(url_of n1),n2=$(url_of n2),n3=$(url_of n3)" 2>&1)" || true
  rm -rf "$dir"
  echo "$out" >>"$LOG"
  local verdict; verdict="$(grep -E 'consistency (pass|FAIL)' <<<"$out" | tail -n 1)"
  grep -q 'consistency pass' <<<"$verdict" && ! grep -q 'consistency FAIL' <<<"$out" \
    || fail "$1: bench --endpoints --scenario isolate-one: $(tail -n 3 <<<"$out")"
  verdict="${verdict#*: }"
  pass "$1: npm run bench -- --endpoints ... --scenario isolate-one: ${verdict%% -> *}"
}

run_topology() { # topology
  local t0=$SECONDS
  echo "compose test: $1"
  up_and_seed "$1"
  "partition_$1"
  "kill_restart_$1"
  whole_cluster_restart "$1"
  bench_against_cluster "$1"
  echo "  ($1 took $((SECONDS - t0)) s)"
}

# Each part runs in a subshell: a failed check ends that part, the next one still runs. A part
# that stops on a failed command rather than a failed check is counted as a failure too.
run_part() { # name function args...
  local name="$1"; shift
  local fails_before rc
  fails_before="$(grep -c '^fail' "$RESULTS_FILE" || true)"
  # In the background and waited for, so that Ctrl-C or SIGTERM is handled at once.
  (set -e; "$@") &
  part_pid=$!
  wait "$part_pid"
  rc=$?
  part_pid=''
  if ((rc != 0)) && [[ "$(grep -c '^fail' "$RESULTS_FILE" || true)" == "$fails_before" ]]; then
    echo "fail  $name: a command failed (exit $rc)" >>"$RESULTS_FILE"
    echo "  FAIL  $name: a command failed (exit $rc); see the log below"
  fi
  return "$rc"
}

set +e
run_part "bad input" bad_input
compose raft down -v --remove-orphans --timeout 5
for topology in "${TOPOLOGIES[@]}"; do
  run_part "$topology" run_topology "$topology"  # not in an `if`: that would switch off set -e inside
  if (($? != 0)); then
    for n in n1 n2 n3; do
      echo "  --- docker logs $(container_of "$n") (last 15 lines)"
      docker logs --tail 15 "$(container_of "$n")" 2>&1 | sed 's/^/    /'
    done
  fi
  compose "$topology" down -v --remove-orphans --timeout 5
done
set -e
