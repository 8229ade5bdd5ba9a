#!/usr/bin/env bash
# Tile speed over HTTP (issue 4, issue 10): a release `citysnap serve` on loopback over the
# demo jurisdiction and the one million synthetic reports of benches/tiles.rs (prepared once
# by examples/tiles_data.rs into $TILES_BENCH_DIR), and next to it, in the same run, PostGIS
# serving the same hexagons as MVT with ST_AsMVT directly.
#
# 1. Cold: the first request of the busiest heat-map tile of zooms 10, 12, 14 and 16 and of
#    its 8 neighbours (MVT), on a fresh server: each is drawn from the store (curl timings).
# 2. Warm: wrk on each busiest tile (MVT, MVT gzipped, GeoJSON) and a grid-outline tile,
#    now served from the rendered-tile cache.
# 3. Peer: the same 1 M reports counted per hexagon (examples/tiles_peer_data.rs, the same
#    latLngToCell counts) in a scratch database citysnap_bench_tiles on 127.0.0.1:5432, a
#    GiST index on the hexagons in EPSG:3857, and pgbench running the ST_AsMVT query of each
#    busiest tile (k-anonymous like the public tiles: count >= 3). The database is dropped
#    on exit, also on failure.
#
# Bounded: one wrk run and one pgbench run of $DURATION per tile, $CONNECTIONS connections
# on 2 threads, only to 127.0.0.1; every curl at most 30 s; the server is stopped on exit.
# Prints Markdown tables.
#
#   scripts/bench_tiles_http.sh            # DURATION=10 CONNECTIONS=8 by default
#
# Needs wrk (Debian: apt-get install -y wrk), curl, psql and pgbench. The servers and the
# load generators share the machine's cores, so the numbers are floors for a dedicated one.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
DURATION="${DURATION%s}"
CONNECTIONS="${CONNECTIONS:-8}"
TARGET="${CARGO_TARGET_DIR:-target}"
DATA="${TILES_BENCH_DIR:-$TARGET/bench/tiles-data}"
PORT="${PORT:-18089}"
BASE="http://127.0.0.1:$PORT"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
PEER_DB=citysnap_bench_tiles

for tool in wrk curl psql pgbench; do
  command -v "$tool" >/dev/null || { echo "bench_tiles_http: $tool is missing" >&2; exit 2; }
done

cargo build --release --quiet --bin citysnap --example tiles_data --example tiles_peer_data
if [ ! -f "$DATA.tiles.jsonl" ]; then
  rm -rf "$DATA"
  mkdir -p "$(dirname "$DATA")"
  "$TARGET/release/examples/tiles_data" "$DATA" > "$DATA.tiles.jsonl.tmp"
  mv "$DATA.tiles.jsonl.tmp" "$DATA.tiles.jsonl"
fi

WORK=$(mktemp -d)
SERVER=
cleanup() {
  [ -n "$SERVER" ] && { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }
  psql "$PG/postgres" -qAtc "drop database if exists $PEER_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

RUST_LOG=error "$TARGET/release/citysnap" serve --bind "127.0.0.1:$PORT" --data-dir "$DATA" &
SERVER=$!
for _ in $(seq 1 240); do
  curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "bench_tiles_http: the server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$BASE/readyz" >/dev/null

field() { sed -E "s/.*\"$1\":([0-9]+).*/\\1/" <<<"$2"; }
tiles=()
while read -r line; do
  tiles+=("$(field z "$line") $(field x "$line") $(field y "$line") $(field reports "$line")")
done < "$DATA.tiles.jsonl"

echo "release build, $(nproc) cores shared by servers and load generators, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
echo
echo "### Cold: first request of a tile (drawn from the store), busiest tile and its 8 neighbours"
echo
echo "| zoom | tiles (200 / 204) | median | slowest | busiest tile |"
echo "| ---: | --- | ---: | ---: | ---: |"
for t in "${tiles[@]}"; do
  read -r z x y _ <<<"$t"
  times=()
  ok=0
  empty=0
  busiest=
  for dx in 0 -1 1; do
    for dy in 0 -1 1; do
      read -r status secs < <(curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{time_total}\n' \
        "$BASE/tiles/hexbins/$z/$((x + dx))/$((y + dy)).mvt")
      ms=$(awk -v s="$secs" 'BEGIN {printf "%.1f", s * 1000}')
      times+=("$ms")
      [ -z "$busiest" ] && busiest=$ms
      case $status in 200) ok=$((ok + 1)) ;; 204) empty=$((empty + 1)) ;; *) echo "bench_tiles_http: $z/$x/$y: $status" >&2 ;; esac
    done
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  median=$(sed -n 5p <<<"$sorted")
  slowest=$(tail -n1 <<<"$sorted")
  echo "| $z | $ok / $empty | $median ms | $slowest ms | $busiest ms |"
done

urls=()
for t in "${tiles[@]}"; do
  read -r z x y n <<<"$t"
  urls+=("hexbins/$z/$x/$y.mvt|$n|")
  [ "$z" = 14 ] && urls+=("hexbins/$z/$x/$y.mvt|$n|gzip" "hexbins/$z/$x/$y.geojson|$n|" "grids/$z/$x/$y.mvt|-|")
done

echo
echo "### Warm: citysnap over HTTP (rendered-tile cache), wrk -t2 -c$CONNECTIONS -d${DURATION}s"
echo
echo "| tile | reports in tile | encoding | status | bytes | requests/s | latency avg | latency p99 |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for entry in "${urls[@]}"; do
  IFS='|' read -r path n enc <<<"$entry"
  headers=()
  [ "$enc" = gzip ] && headers=(-H "Accept-Encoding: gzip")
  read -r status bytes < <(curl -sS --max-time 30 -o /dev/null -w '%{http_code} %{size_download}\n' "${headers[@]}" "$BASE/tiles/$path")
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency "${headers[@]}" "$BASE/tiles/$path")
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  avg=$(awk '/^ +Latency/ {print $2; exit}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out")
  [ -n "$errors" ] && echo "bench_tiles_http: $path: $errors" >&2
  echo "| \`/tiles/$path\` | $n | ${enc:-identity} | $status | $bytes | $rps | $avg | $p99 |"
done

# The server is done: the peer gets the cores to itself.
kill "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
SERVER=

declare -A zoom_res=([10]=7 [12]=8 [14]=10 [16]=11)
resolutions=()
for t in "${tiles[@]}"; do
  read -r z _ <<<"$t"
  resolutions+=("${zoom_res[$z]}")
done
"$TARGET/release/examples/tiles_peer_data" "$WORK/hexbins.csv" "${resolutions[@]}" 2>"$WORK/peer_data.log"
export PGOPTIONS="-c statement_timeout=600000"
psql "$PG/postgres" -qAtc "drop database if exists $PEER_DB" >/dev/null
psql "$PG/postgres" -qAtc "create database $PEER_DB" >/dev/null
started=$(date +%s)
psql "$PG/$PEER_DB" -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
create extension postgis;
create table hexbins_csv (res smallint, cell bigint, n bigint, wkt text);
\copy hexbins_csv from '$WORK/hexbins.csv' csv
create table hexbins as
  select res, cell, n, st_transform(st_geomfromtext(wkt, 4326), 3857) as geom from hexbins_csv;
drop table hexbins_csv;
create index on hexbins using gist (geom);
create index on hexbins (res);
analyze hexbins;
SQL
cells=$(psql "$PG/$PEER_DB" -qAtc "select count(*) from hexbins")

echo
echo "### Peer: PostGIS 'ST_AsMVT' on the same hexagons, pgbench -n -c$CONNECTIONS -j2 -T$DURATION"
echo
echo "$cells hexagons loaded and indexed in $(( $(date +%s) - started )) s ($(tr '\n' ' ' < "$WORK/peer_data.log"))."
echo
echo "| tile | resolution | bytes | tiles/s | latency avg |"
echo "| --- | ---: | ---: | ---: | ---: |"
for t in "${tiles[@]}"; do
  read -r z x y _ <<<"$t"
  res=${zoom_res[$z]}
  cat > "$WORK/tile.sql" <<SQL
select st_asmvt(q, 'hexbins', 4096, 'geom') from (
  select to_hex(cell) as cell, n as count,
         st_asmvtgeom(geom, st_tileenvelope($z, $x, $y), 4096, 64, true) as geom
  from hexbins
  where res = $res and n >= 3 and geom && st_tileenvelope($z, $x, $y, margin => 64.0 / 4096)
) q;
SQL
  bytes=$(psql "$PG/$PEER_DB" -qAt -c "select length(mvt) from ($(sed 's/;$//' "$WORK/tile.sql" | tr '\n' ' ')) as t(mvt)")
  out=$(pgbench -n -c"$CONNECTIONS" -j2 -T"$DURATION" -f "$WORK/tile.sql" "$PG/$PEER_DB" 2>&1)
  tps=$(awk '/^tps/ {print $3}' <<<"$out")
  lat=$(awk '/^latency average/ {print $4, $5}' <<<"$out")
  echo "| \`$z/$x/$y\` | $res | $bytes | $tps | $lat |"
done
