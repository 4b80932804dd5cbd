#!/usr/bin/env bash
# The insight layer's cost under load (docs/performance.md): `autoreply_bot` in real mode
# against `wecom-sim serve`, driven by `wecom-sim load`, once without the archive and
# once with it (`WECOM_ARCHIVE_URL`: the conversation archive in PostgreSQL, schema
# `autoreply`). Needs PostgreSQL and a release build with the archive:
#   cargo build --release -p wecom-sdk --example autoreply_bot --features postgres -p wecom-sdk-sim --bin wecom-sim
# Usage: benches/load/archive.sh [SECONDS] [CUSTOMERS]
#   RATE=N  pace the load at N requests/s (open loop) instead of saturating the bot
#   PIN=1   PostgreSQL on CPU 1, the bot and the load client on CPU 0 (the database as on
#           a host of its own: it takes no CPU from the bot)
#   PRELOAD=/path/lib.so  the bot with another allocator (LD_PRELOAD), e.g. jemalloc
#   ROUNDS=N  N rounds, each without then with the archive, and the medians at the end
#           (a host's throughput moves by ±15 % between runs: one pair proves little)
# Besides the load report, each run prints the bot's CPU time per request (user+system,
# from /proc) and, with the archive, what the sink wrote, spilled and dropped.
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_RUN=${1:-15}
CUSTOMERS=${2:-500}
ARCHIVE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
RATE_ARG=${RATE:+--rate $RATE}
ON0=""
if [ "${PIN:-0}" = 1 ]; then
  ON0="taskset -c 0"
  # The postmaster and every backend (new ones inherit it from the postmaster).
  for p in $(pgrep -f postgres); do taskset -a -p -c 1 "$p" >/dev/null; done
fi
TICKS=$(getconf CLK_TCK)
ROUNDS=${ROUNDS:-1}
RESULTS=$(mktemp)
start_sim
run() { # label, extra env; appends "label requests/s µs-per-request" to $RESULTS
  echo "== wecom-sim load → autoreply_bot $1 the archive ($CUSTOMERS customers, ${SECONDS_RUN}s)"
  $ON0 env "${BOT_ENV[@]}" $2 ${PRELOAD:+LD_PRELOAD=$PRELOAD} \
    "$R/examples/autoreply_bot" >/tmp/load-bot.log 2>&1 &
  local bot=$!
  sleep 1
  local out
  out=$($ON0 "$R/wecom-sim" load --url http://127.0.0.1:8080/wecom/callback --token $TOKEN --aes-key $KEY \
    --receive-id $CORP --customers "$CUSTOMERS" --duration "${SECONDS_RUN}s" $RATE_ARG --json)
  echo "$out"
  # utime + stime of the bot (fields 14, 15 of /proc/PID/stat), per request answered.
  local ticks requests per_request
  ticks=$(awk '{print $14 + $15}' "/proc/$bot/stat")
  echo "bot utime/stime ticks: $(awk '{print $14 " " $15}' "/proc/$bot/stat")" >&2
  requests=$(echo "$out" | sed -E 's/.*"requests":([0-9]+).*/\1/')
  per_request=$(awk -v t="$ticks" -v hz="$TICKS" -v n="$requests" 'BEGIN { print t / hz / n * 1e6 }')
  echo "bot CPU: $(awk -v t="$ticks" -v hz="$TICKS" -v us="$per_request" 'BEGIN { printf "%.2f s, %.1f µs per request", t / hz, us }')"
  echo "$1 $(echo "$out" | sed -E 's/.*"requests_per_second":([0-9.]+).*/\1/') $per_request" >>"$RESULTS"
  kill -INT $bot; wait $bot || true
  grep -E "archive|sink" /tmp/load-bot.log | tail -3 || true
}
for round in $(seq 1 "$ROUNDS"); do
  [ "$ROUNDS" = 1 ] || echo "== round $round of $ROUNDS"
  run "without" ""
  psql "$ARCHIVE" -qc "DROP SCHEMA IF EXISTS autoreply CASCADE" >/dev/null 2>&1 || true
  run "with" "WECOM_ARCHIVE_URL=$ARCHIVE"
  echo "== rows archived: $(psql "$ARCHIVE" -tAc "SELECT count(*) FROM autoreply.messages")"
done
if [ "$ROUNDS" -gt 1 ]; then
  # Per round: the throughput's change and the CPU per request added; then the medians.
  awk '
    function median(a, n,   i, j, t) {
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $1 == "without" { rps = $2; cpu = $3 }
    $1 == "with" { n++; base[n] = rps; arch[n] = $2; change[n] = ($2 / rps - 1) * 100; added[n] = $3 - cpu
      printf "round %d: %.0f -> %.0f req/s (%+.1f %%), bot CPU %+.1f µs per request\n", n, rps, $2, change[n], added[n] }
    END { printf "median of %d rounds: %.0f -> %.0f req/s, throughput %+.1f %%, bot CPU %+.1f µs per request\n", n, median(base, n), median(arch, n), median(change, n), median(added, n) }
  ' "$RESULTS"
fi
rm -f "$RESULTS"
if [ "${PIN:-0}" = 1 ]; then
  for p in $(pgrep -f postgres); do taskset -a -p -c 0,1 "$p" >/dev/null; done
fi
