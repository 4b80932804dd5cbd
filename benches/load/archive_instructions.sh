#!/usr/bin/env bash
# The archive's cost in instructions (docs/performance.md): `autoreply_bot` under
# `valgrind --tool=callgrind` answers N callbacks from `wecom-sim load`, once without
# and once with the archive (`WECOM_ARCHIVE_URL`, schema `autoreply`). Instruction counts
# do not depend on what else the machine does; the difference over N is the archive's
# user-space cost per request (kernel time and cache effects are not counted).
# Needs valgrind, PostgreSQL and the release build of benches/load/archive.sh.
# Usage: benches/load/archive_instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-3000}
ARCHIVE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
R=target/release
TOKEN=loadToken2025
KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
CORP=wwloadcorp000001
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$R/wecom-sim" serve --port 9901 --corp-id "$CORP" --secret load-secret --agent 1000002 >/tmp/load-sim.log 2>&1 &
pids+=($!)
sleep 0.5
run() { # label, extra env; prints the instructions collected
  local out="/tmp/archive-callgrind.$1"
  env WECOM_CORP_ID=$CORP WECOM_SECRET=load-secret WECOM_AGENT_ID=1000002 WECOM_TOKEN=$TOKEN \
    WECOM_AES_KEY=$KEY WECOM_API_BASE=http://127.0.0.1:9901 WECOM_LISTEN=127.0.0.1:8080 $2 \
    valgrind --tool=callgrind --callgrind-out-file="$out" "$R/examples/autoreply_bot" >/tmp/load-bot.log 2>&1 &
  local bot=$!
  for _ in $(seq 1 120); do curl -s -o /dev/null http://127.0.0.1:8080/wecom/callback && break; sleep 0.5; done
  "$R/wecom-sim" load --url http://127.0.0.1:8080/wecom/callback --token $TOKEN --aes-key $KEY \
    --receive-id $CORP --customers 20 --count "$N" --json >/dev/null
  kill -INT $bot; wait $bot || true
  sed -nE 's/.*Collected : ([0-9]+).*/\1/p' /tmp/load-bot.log
}
without=$(run without "")
psql "$ARCHIVE" -qc "DROP SCHEMA IF EXISTS autoreply CASCADE" >/dev/null 2>&1 || true
with=$(run with "WECOM_ARCHIVE_URL=$ARCHIVE")
echo "instructions for $N callbacks: without the archive $without, with it $with"
echo "the archive: $(( (with - without) / N )) instructions per request ($(( (with - without) * 100 / without )) %)"
echo "per function: callgrind_annotate /tmp/archive-callgrind.with"
