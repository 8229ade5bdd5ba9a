#!/usr/bin/env bash
# The analytics load of issue 8, item 16, against a release `serve --demo` on loopback:
# 200 parallel anonymous `hotspots?res=8&permutations=9999&seed=i` (each curl bounded to 60 s),
# /healthz probed meanwhile, then the two over-budget requests the issue names. Prints the
# answers per status, the slowest /healthz, and the server's resident memory: at start, its
# peak (VmHWM) and after the load. Bounded: one burst, at most about two minutes.
#
#     scripts/bench_analytics_load.sh            # PORT=18201 PARALLEL=200
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-18201}"
PARALLEL="${PARALLEL:-200}"
BASE="http://127.0.0.1:$PORT"

cargo build --release --quiet --bin citysnap
DATA="$(mktemp -d)"
OUT="$(mktemp -d)"
target/release/citysnap serve --demo --bind "127.0.0.1:$PORT" --data-dir "$DATA" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$DATA" "$OUT"' EXIT
for _ in $(seq 1 120); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.5; done
curl -sf "$BASE/healthz" >/dev/null
rss() { awk -v k="$1" '$1 == k":" {print $2 / 1024 " MB"}' "/proc/$SERVER/status"; }
echo "rss at start: $(rss VmRSS)"

# Liveness probe during the burst: the slowest of 40 probes, 50 ms apart.
(
  slowest=0
  for _ in $(seq 1 40); do
    t=$(curl -s -o /dev/null -m 30 -w '%{time_total}' "$BASE/healthz")
    slowest=$(awk -v a="$slowest" -v b="$t" 'BEGIN {print (b > a) ? b : a}')
    sleep 0.05
  done
  echo "slowest /healthz during the burst: ${slowest} s"
) &
PROBE=$!

started=$(date +%s.%N)
seq 1 "$PARALLEL" | xargs -P "$PARALLEL" -I{} \
  curl -s -o /dev/null -m 60 -w '%{http_code}\n' \
  "$BASE/v1/analytics/hotspots?res=8&permutations=9999&seed={}" >"$OUT/codes.txt" || true
ended=$(date +%s.%N)
wait "$PROBE"
echo "burst of $PARALLEL took $(awk -v a="$started" -v b="$ended" 'BEGIN {printf "%.1f", b - a}') s; answers by status:"
sort "$OUT/codes.txt" | uniq -c
for q in "res=11" "res=10&k=10&permutations=250"; do
  curl -s -o "$OUT/over.json" -m 60 -w "hotspots?$q: %{http_code} in %{time_total} s, " "$BASE/v1/analytics/hotspots?$q"
  grep -o '"code":"[a-z_]*"' "$OUT/over.json"
done
echo "rss peak (VmHWM): $(rss VmHWM)"
sleep 2
echo "rss after: $(rss VmRSS)"
