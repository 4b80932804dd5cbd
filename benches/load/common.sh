# Sourced by the load scripts: the repository root as the working directory, the
# release binaries, the load corp's settings, cleanup of started processes on exit,
# and `start_sim` (the fake WeCom API on 127.0.0.1:9901).
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
R=target/release
TOKEN=loadToken2025
KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG
CORP=wwloadcorp000001
# The bot's settings in real mode against the fake (followed by extra VAR=value words).
BOT_ENV=(WECOM_CORP_ID=$CORP WECOM_SECRET=load-secret WECOM_AGENT_ID=1000002 WECOM_TOKEN=$TOKEN
  WECOM_AES_KEY=$KEY WECOM_API_BASE=http://127.0.0.1:9901 WECOM_LISTEN=127.0.0.1:8080)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

start_sim() {
  "$R/wecom-sim" serve --port 9901 --corp-id "$CORP" --secret load-secret --agent 1000002 >/tmp/load-sim.log 2>&1 &
  pids+=($!)
  sleep 0.5
}
