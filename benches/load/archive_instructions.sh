#!/usr/bin/env bash
# The archive's cost in instructions (docs/performance.md): `autoreply_bot` under
# `valgrind --tool=callgrind` answers N callbacks from `wecom-sim load`, once without
# and once with the archive (`WECOM_ARCHIVE_URL`, schema `autoreply`). Instruction counts
# do not depend on what else the machine does; the difference over N is the archive's
# user-space cost per request (kernel time and cache effects are not counted).
# Needs valgrind, PostgreSQL and the release build of benches/load/archive.sh.
# Usage: benches/load/archive_instructions.sh [N]
set -euo pipefail
source "$(dirname "$0")/common.sh"
N=${1:-3000}
ARCHIVE=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
start_sim
run() { # label, extra env; prints the instructions collected
  local out="/tmp/archive-callgrind.$1"
  env "${BOT_ENV[@]}" $2 \
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
