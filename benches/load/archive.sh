#!/usr/bin/env bash
# The insight layer's cost under load (docs/performance.md): `autoreply_bot` in real mode
# against `wecom-sim serve`, driven by `wecom-sim load`, once without the archive and
# once with it (`WECOM_ARCHIVE_URL`: the conversation archive in PostgreSQL, schema
# `autoreply`). Needs PostgreSQL and a release build with the archive:
#   cargo build --release -p wecom-sdk --example autoreply_bot --features postgres -p wecom-sdk-sim --bin wecom-sim
# Usage: benches/load/archive.sh [SECONDS] [CUSTOMERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_RUN=${1:-15}
CUSTOMERS=${2:-500}
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
run() { # label, extra env
  echo "== wecom-sim load → autoreply_bot $1 ($CUSTOMERS customers, ${SECONDS_RUN}s)"
  env WECOM_CORP_ID=$CORP WECOM_SECRET=load-secret WECOM_AGENT_ID=1000002 WECOM_TOKEN=$TOKEN \
    WECOM_AES_KEY=$KEY WECOM_API_BASE=http://127.0.0.1:9901 WECOM_LISTEN=127.0.0.1:8080 $2 \
    "$R/examples/autoreply_bot" >/tmp/load-bot.log 2>&1 &
  local bot=$!
  sleep 1
  "$R/wecom-sim" load --url http://127.0.0.1:8080/wecom/callback --token $TOKEN --aes-key $KEY \
    --receive-id $CORP --customers "$CUSTOMERS" --duration "${SECONDS_RUN}s" --json
  echo
  kill -INT $bot; wait $bot || true
}
run "without the archive" ""
psql "$ARCHIVE" -qc "DROP SCHEMA IF EXISTS autoreply CASCADE" >/dev/null 2>&1 || true
run "with the archive" "WECOM_ARCHIVE_URL=$ARCHIVE"
echo "== rows archived: $(psql "$ARCHIVE" -tAc "SELECT count(*) FROM autoreply.messages")"
