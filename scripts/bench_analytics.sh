#!/usr/bin/env bash
# City-wide analytics over many reports (issue 10, "interactive speed"): the same requests
# against two servers on one data directory, side by side in one run: one counting from
# the in-memory report cube (the default) and one reading the store for every request
# (`serve --no-analytics-cube`, what every request did before the cube). Prints a Markdown
# table of medians, the cube's load time and both servers' resident memory.
#
#     scripts/bench_analytics.sh                  # REPORTS=1000000 RUNS=7
#     REPORTS=100000 scripts/bench_analytics.sh   # a quicker look
#
# The data directory ($ANALYTICS_BENCH_DIR, default target/bench/cube-$REPORTS) is written
# once by `citysnap demo --reports $REPORTS` (the demo jurisdiction of 兴隆台区 and
# $REPORTS synthetic reports over twelve months with their case logs: about 13 minutes and
# 6 GB of memory for a million on 2 cores). Bounded: RUNS requests a URL a server, each
# curl limited to 120 s; servers only on 127.0.0.1, stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

REPORTS="${REPORTS:-1000000}"
RUNS="${RUNS:-7}"
PROFILE="${PROFILE:-release}"
TARGET="${CARGO_TARGET_DIR:-target}"
DATA="${ANALYTICS_BENCH_DIR:-$TARGET/bench/cube-$REPORTS}"
CUBE_PORT="${CUBE_PORT:-18301}"
STORE_PORT="${STORE_PORT:-18302}"

if [ "$PROFILE" = release ]; then
  cargo build --release --quiet --bin citysnap
  BIN="$TARGET/release/citysnap"
else
  cargo build --quiet --bin citysnap
  BIN="$TARGET/debug/citysnap"
fi
if [ ! -f "$DATA/.complete" ]; then
  rm -rf "$DATA"
  mkdir -p "$DATA"
  echo "writing $REPORTS reports into $DATA (once)" >&2
  "$BIN" demo --reports "$REPORTS" --data-dir "$DATA" >&2
  touch "$DATA/.complete"
fi

LOGS="$(mktemp -d)"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap cleanup EXIT

"$BIN" serve --bind "127.0.0.1:$CUBE_PORT" --data-dir "$DATA" >"$LOGS/cube.log" 2>&1 &
PIDS+=($!); CUBE_PID=$!
"$BIN" serve --no-analytics-cube --bind "127.0.0.1:$STORE_PORT" --data-dir "$DATA" >"$LOGS/store.log" 2>&1 &
PIDS+=($!); STORE_PID=$!

# The cube server answers at once (from the store) and switches when the cube is loaded.
for _ in $(seq 1 600); do
  grep -q "loaded the report cube" "$LOGS/cube.log" 2>/dev/null && break
  sleep 0.5
done
grep -q "loaded the report cube" "$LOGS/cube.log" || { echo "the cube did not load:" >&2; cat "$LOGS/cube.log" >&2; exit 1; }
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$STORE_PORT/healthz" >/dev/null && break; sleep 0.5; done
loaded=$(grep "loaded the report cube" "$LOGS/cube.log" | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'cases=[0-9]* megabytes=[0-9]* seconds=[0-9.]*')

TOKEN=$("$BIN" token create --role planner --name bench --data-dir "$DATA" | tail -1)
# The street with the most reports, for the unit filter.
STREET=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select street from case_index group by street order by count(*) desc limit 1").fetchone()[0])' "$DATA/citysnap.sqlite")

# The median of $RUNS timings (seconds) of one URL on one port, and the answer's size.
median() {
  local port=$1 path=$2 times=()
  for _ in $(seq 1 "$RUNS"); do
    times+=("$(curl -s -o "$LOGS/body" -m 120 -H "Authorization: Bearer $TOKEN" \
      -w '%{time_total}' "http://127.0.0.1:$port$path")")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] * 1000}'
}

YEAR_AGO=$(date -u -d '-12 months' +%Y-%m-01)
MONTH_AGO=$(date -u -d '-1 month' +%Y-%m-%d)
URLS=(
  "/v1/analytics/hexbins?res=8"
  "/v1/analytics/hexbins?res=10"
  "/v1/analytics/hexbins?res=12"
  "/v1/analytics/hexbins?res=8&category=03&from=$MONTH_AGO"
  "/v1/analytics/hexbins?res=10&status=submitted,dispatched,accepted,in_progress"
  "/v1/analytics/hexbins?res=10&unit=$STREET"
  "/v1/analytics/hexbins?res=8&by=category"
  "/v1/analytics/hotspots?res=8"
  "/v1/analytics/hotspots?res=10"
  "/v1/analytics/hotspots?res=10&significant=true"
  "/v1/analytics/hotspots?res=9&category=01&status=closed,rated"
  "/v1/analytics/hotspots/emerging?res=8&period=month&from=$YEAR_AGO"
)

echo "$REPORTS reports, $PROFILE build, commit $(git rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "report cube: $loaded"
echo
echo "| request | store, every request (ms) | report cube (ms) | × | answer |"
echo "| --- | ---: | ---: | ---: | ---: |"
for u in "${URLS[@]}"; do
  s=$(median "$STORE_PORT" "$u")
  c=$(median "$CUBE_PORT" "$u")
  size=$(stat -c %s "$LOGS/body")
  x=$(awk -v a="$s" -v b="$c" 'BEGIN { if (b > 0) printf "%.0f", a / b; else print "-" }')
  echo "| \`$u\` | $s | $c | $x | $((size / 1024)) KB |"
done
rss() { awk '$1 == "VmHWM:" {printf "%d MB", $2 / 1024}' "/proc/$1/status"; }
echo
echo "peak resident memory: report cube server $(rss "$CUBE_PID"), store-only server $(rss "$STORE_PID")"
