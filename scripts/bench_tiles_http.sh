#!/usr/bin/env bash
# Tile throughput over HTTP (issue 4): a release `citysnap serve` on loopback over the demo
# jurisdiction and the one million synthetic reports of benches/tiles.rs (prepared once by
# examples/tiles_data.rs into $TILES_BENCH_DIR), loaded with wrk on the busiest heat-map
# tile of zooms 10, 12, 14 and 16 (MVT, MVT gzipped, GeoJSON) and a grid-outline tile.
# Bounded: one wrk run of $DURATION per URL, $CONNECTIONS connections on 2 threads, only
# to 127.0.0.1; the server is stopped on exit. Prints a Markdown table.
#
#   scripts/bench_tiles_http.sh            # DURATION=10s CONNECTIONS=8 by default
#
# Needs wrk (Debian: apt-get install -y wrk). The server and wrk share the machine's cores,
# so the numbers are a floor for a dedicated server.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-8}"
TARGET="${CARGO_TARGET_DIR:-target}"
DATA="${TILES_BENCH_DIR:-$TARGET/bench/tiles-data}"
PORT="${PORT:-18089}"
BASE="http://127.0.0.1:$PORT"

command -v wrk >/dev/null || { echo "bench_tiles_http: wrk is missing (apt-get install -y wrk)" >&2; exit 2; }
command -v curl >/dev/null || { echo "bench_tiles_http: curl is missing" >&2; exit 2; }

cargo build --release --quiet --bin citysnap --example tiles_data
if [ ! -f "$DATA.tiles.jsonl" ]; then
  rm -rf "$DATA"
  mkdir -p "$(dirname "$DATA")"
  "$TARGET/release/examples/tiles_data" "$DATA" > "$DATA.tiles.jsonl.tmp"
  mv "$DATA.tiles.jsonl.tmp" "$DATA.tiles.jsonl"
fi

RUST_LOG=error "$TARGET/release/citysnap" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "bench_tiles_http: the server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null

urls=()
while read -r line; do
  z=$(sed -E 's/.*"z":([0-9]+).*/\1/' <<<"$line")
  x=$(sed -E 's/.*"x":([0-9]+).*/\1/' <<<"$line")
  y=$(sed -E 's/.*"y":([0-9]+).*/\1/' <<<"$line")
  n=$(sed -E 's/.*"reports":([0-9]+).*/\1/' <<<"$line")
  urls+=("hexbins/$z/$x/$y.mvt|$n|")
  [ "$z" = 14 ] && urls+=("hexbins/$z/$x/$y.mvt|$n|gzip" "hexbins/$z/$x/$y.geojson|$n|" "grids/$z/$x/$y.mvt|-|")
done < "$DATA.tiles.jsonl"

echo "wrk -t2 -c$CONNECTIONS -d$DURATION, release build, $(nproc) cores shared by server and wrk, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| tile | reports in tile | encoding | status | bytes | requests/s | latency avg | latency p99 |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for entry in "${urls[@]}"; do
  IFS='|' read -r path n enc <<<"$entry"
  headers=()
  [ "$enc" = gzip ] && headers=(-H "Accept-Encoding: gzip")
  read -r status bytes < <(curl -sS -o /dev/null -w '%{http_code} %{size_download}\n' "${headers[@]}" "$BASE/tiles/$path")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency "${headers[@]}" "$BASE/tiles/$path")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  avg=$(awk '/^ +Latency/ {print $2; exit}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -n "$errors" ] && echo "bench_tiles_http: $path: $errors" >&2
  echo "| \`/tiles/$path\` | $n | ${enc:-identity} | $status | $bytes | $rps | $avg | $p99 |"
done
