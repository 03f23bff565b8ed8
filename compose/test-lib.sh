# shellcheck shell=bash
# Helpers for compose/test.sh (sourced). Client requests go to 127.0.0.1 only.
# shellcheck disable=SC2034

RESULTS_FILE="${RESULTS_FILE:?}"
LOG="${LOG:?}"

pass() { printf 'pass  %s\n' "$*" >>"$RESULTS_FILE"; printf '  ok    %s\n' "$*"; }
fail() { # message; records the failure and aborts the current step (the caller's subshell)
  printf 'fail  %s\n' "$*" >>"$RESULTS_FILE"
  printf '  FAIL  %s\n' "$*"
  exit 1
}
check() { # description command...: pass if the command succeeds, else fail
  local what="$1"; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}

# Poll a command until it succeeds (every 0.3 s), at most `seconds`. No fixed sleeps.
wait_for() { # seconds command...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS >= deadline)) && return 1
    sleep 0.3
  done
}

# POST /incr; prints the HTTP status (000 when curl got no answer within the timeout).
incr() { # node query idempotency-key
  curl -s -m "${INCR_TIMEOUT_S:-6}" -o /dev/null -w '%{http_code}' -X POST \
    "$(url_of "$1")/incr${2:-}" -H "Idempotency-Key: $3" 2>/dev/null || true
}

# The counter's value as this node serves it with `query`, or nothing if it does not answer 200.
value_of() { # node query
  local body
  body="$(curl -s -m 5 -f "$(url_of "$1")/count${2:-}" 2>/dev/null)" || return 0
  sed -n 's/.*"value":\(-\{0,1\}[0-9]*\).*/\1/p' <<<"$body"
}

count_status() { # node query -> HTTP status of GET /count
  curl -s -m "${INCR_TIMEOUT_S:-6}" -o /dev/null -w '%{http_code}' "$(url_of "$1")/count${2:-}" 2>/dev/null || true
}

# Acknowledged / unknown tallies for the current topology (the checkers' ok / info).
ACKED=0
UNKNOWN=0
KEY_SEQ=0
RUN_ID="$(od -An -tx1 -N6 /dev/urandom | tr -d ' \n')"
# Sets KEY (not printed: a $(...) subshell would lose the sequence and repeat keys).
next_key() { KEY_SEQ=$((KEY_SEQ + 1)); KEY="test-$RUN_ID-$BASHPID-$KEY_SEQ"; }

# Increment until acknowledged, retrying with the SAME Idempotency-Key (so a retry after a
# timeout is never counted twice), for at most `seconds`. 0 if acknowledged.
incr_acked() { # node query seconds
  local key code deadline=$((SECONDS + $3))
  next_key; key="$KEY"
  while true; do
    code="$(incr "$1" "$2" "$key")"
    if [[ "$code" == 200 ]]; then ACKED=$((ACKED + 1)); return 0; fi
    if ((SECONDS >= deadline)); then
      # Not acknowledged: a 503 surely did not apply; anything else may have.
      [[ "$code" == 503 ]] || UNKNOWN=$((UNKNOWN + 1))
      echo "    $1 did not acknowledge within $3 s (last status $code)" >&2
      return 1
    fi
    sleep 0.3
  done
}

# One attempt, expected to be refused; its status lands in LAST_CODE (not printed: a $(...)
# subshell would lose the tallies). Tallies a possible application as unknown.
LAST_CODE=''
incr_refused() { # node query
  local code
  next_key
  code="$(incr "$1" "$2" "$KEY")"
  LAST_CODE="$code"
  case "$code" in
    200) ACKED=$((ACKED + 1)) ;;
    503 | 4*) ;;
    *) UNKNOWN=$((UNKNOWN + 1)) ;;
  esac
}

# Every listed node serves a value within [ACKED, ACKED+UNKNOWN], all the same.
converged() { # query node...
  local query="$1"; shift
  local n v first=''
  for n in "$@"; do
    v="$(value_of "$n" "$query")"
    [[ -n "$v" ]] || return 1
    ((v >= ACKED && v <= ACKED + UNKNOWN)) || return 1
    [[ -z "$first" ]] && first="$v"
    [[ "$v" == "$first" ]] || return 1
  done
}

values_line() { # query node... -> "n1=5 n2=5 n3=?"
  local query="$1"; shift
  local n out=''
  for n in "$@"; do out+="$n=$(value_of "$n" "$query") "; done
  echo "${out% }"
}

health_of() { docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$(container_of "$1")" 2>/dev/null; }
healthy() { local n; for n in "$@"; do [[ "$(health_of "$n")" == healthy ]] || return 1; done; }
last_health_output() {
  docker inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$(container_of "$1")" 2>/dev/null | grep . | tail -n 1
}
running() { [[ "$(docker inspect -f '{{.State.Running}}' "$(container_of "$1")" 2>/dev/null)" == true ]]; }

# Raft: every listed node names the same leader, and it is one of them.
leader_among() { # node...
  local n s l first=''
  for n in "$@"; do
    s="$(status_of "$n")"; l="$(json_field "$s" leader)"
    [[ -n "$l" ]] || return 1
    [[ -z "$first" ]] && first="$l"
    [[ "$l" == "$first" ]] || return 1
  done
  local m; for m in "$@"; do [[ "$m" == "$first" ]] && return 0; done
  return 1
}

# "= acknowledged" when nothing was in doubt, else the bounds the value had to fall within.
tally() {
  if ((UNKNOWN == 0)); then echo "= the $ACKED acknowledged"; else echo "acknowledged $ACKED, plus $UNKNOWN unknown outcome(s) that may count"; fi
}
