#!/usr/bin/env bash
# The bot's load run (docs/performance.md): `autoreply_bot` in real mode against
# `wecom-sim serve`, driven by `wecom-sim load` (500 concurrent customers) and by `wrk`
# replaying pre-encrypted callbacks; the same two load clients against a bare axum
# endpoint (empty 200) in the same run. Needs a release build:
#   cargo build --release -p wecom-sdk --example autoreply_bot -p wecom-sdk-sim --bin wecom-sim
#   cargo build --release -p wecom-sdk-benches --bin bare-endpoint --bin encrypt-callbacks
# Usage: benches/load/run.sh [SECONDS] [CUSTOMERS]
set -euo pipefail
source "$(dirname "$0")/common.sh"
SECONDS_RUN=${1:-20}
CUSTOMERS=${2:-500}
start_sim
env "${BOT_ENV[@]}" \
  "$R/examples/autoreply_bot" >/tmp/load-bot.log 2>&1 &
bot=$!
pids+=($bot)
"$R/bare-endpoint" 8081 >/tmp/load-bare.log 2>&1 &
pids+=($!)
sleep 1

load() { # url label
  echo "== wecom-sim load → $2 ($CUSTOMERS customers, ${SECONDS_RUN}s)"
  "$R/wecom-sim" load --url "$1" --token $TOKEN --aes-key $KEY --receive-id $CORP \
    --customers "$CUSTOMERS" --duration "${SECONDS_RUN}s" --json $3
  echo
}
load http://127.0.0.1:8081/wecom/callback "bare endpoint" --no-reply-expected
load http://127.0.0.1:8080/wecom/callback "autoreply_bot" ""
echo "== autoreply_bot RSS after wecom-sim load: $(awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' /proc/$bot/status)"

if command -v wrk >/dev/null; then
  # wrk runs a shorter time: every callback is sent once, so the file must hold more than
  # the fastest target can take (the script says so when it runs out).
  WRK_SECONDS=${WRK_SECONDS:-4}
  N=$((WRK_SECONDS * 150000))
  "$R/encrypt-callbacks" "$N" $TOKEN $KEY $CORP >/tmp/callbacks.tsv
  for target in "8081 bare endpoint" "8080 autoreply_bot"; do
    set -- $target
    echo "== wrk → ${*:2} (2 threads, $CUSTOMERS connections, ${WRK_SECONDS}s, from $N pre-encrypted callbacks, each sent once)"
    CALLBACKS=/tmp/callbacks.tsv wrk -t2 -c"$CUSTOMERS" -d"${WRK_SECONDS}s" --latency \
      -s benches/load/replay.lua "http://127.0.0.1:$1/wecom/callback" -- 2 | grep -E "Requests/sec|Latency|99%|50%|non-200|requests in|Socket|RAN OUT"
  done
  echo "== autoreply_bot RSS at the end: $(awk '/VmRSS|VmHWM/ {printf "%s %s kB  ", $1, $2}' /proc/$bot/status)"
  echo "== bot metrics"
  grep -E '^wecom_bot_(callbacks_total|dedup_hits_total|store_errors_total|active_send_failures_total)' <(curl -s http://127.0.0.1:8080/metrics 2>/dev/null || true) || true
else
  echo "(wrk not installed: apt-get install wrk)"
fi
