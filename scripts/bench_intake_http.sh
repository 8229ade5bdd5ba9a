#!/usr/bin/env bash
# Intake throughput over HTTP (issue 9, "intake at speed"): `citysnap serve` on loopback over
# the demo jurisdiction (`citysnap demo`, no synthetic history), loaded with wrk posting
# anonymous JSON reports (`POST /v1/reports`) at random points inside the demo's grids, on
# each store; next to it, in the same run, the store's own ceiling for comparable rows with
# the same durability:
#   - embedded: python's sqlite3 on a scratch file with the service's pragmas (WAL,
#     synchronous=FULL), one report row and two event rows a report, committed $CONNECTIONS
#     reports a transaction: what the service's group-commit writer does at best with
#     $CONNECTIONS clients (one commit per report would be a ceiling the writer beats);
#   - PostGIS: pgbench with a custom script doing the same rows, $CONNECTIONS clients.
# Bounded: each load runs $DURATION, only to 127.0.0.1; servers and scratch databases are
# removed on exit. Prints a Markdown table.
#
#   scripts/bench_intake_http.sh           # DURATION=10 (seconds) CONNECTIONS=64 PROFILE=release
#   PROFILE=dev scripts/bench_intake_http.sh   # quicker to build, numbers meaningless for speed
#
# Needs wrk (Debian: apt-get install -y wrk), curl, python3, psql and pgbench, and a
# PostgreSQL with PostGIS at $PGHOST:$PGPORT (default 127.0.0.1:5432, user postgres). The
# server, the load generator and the database share the machine's cores, so the numbers are a
# floor for a dedicated server.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-10}"
CONNECTIONS="${CONNECTIONS:-64}"
PROFILE="${PROFILE:-release}"
TARGET="${CARGO_TARGET_DIR:-target}"
PORT="${PORT:-18090}"
BASE="http://127.0.0.1:$PORT"
export PGHOST="${PGHOST:-127.0.0.1}" PGPORT="${PGPORT:-5432}" PGUSER="${PGUSER:-postgres}"
DB="citysnap_bench_intake_$$"
CEILING_DB="citysnap_bench_ceiling_$$"

for tool in wrk curl python3 psql pgbench; do
  command -v "$tool" >/dev/null || { echo "bench_intake_http: $tool is missing" >&2; exit 2; }
done

# NO_BUILD=1: use the binary as built (e.g. by the test run, whose features differ).
[ "${NO_BUILD:-}" = 1 ] || cargo build --quiet --profile "$PROFILE" --bin citysnap
BIN="$TARGET/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/citysnap"

WORK="$(mktemp -d)"
SERVER=""
stop_server() {
  if [ -n "$SERVER" ]; then
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
  fi
}
cleanup() {
  stop_server
  psql -q -d postgres -c "drop database if exists $DB" -c "drop database if exists $CEILING_DB" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

psql -q -d postgres -c "create database $DB" -c "create database $CEILING_DB" >/dev/null
PG_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$DB"

# The demo jurisdiction in both stores.
RUST_LOG=error "$BIN" demo --database-url "$PG_URL" --data-dir "$WORK/unused" >/dev/null
RUST_LOG=error "$BIN" demo --data-dir "$WORK/sqlite" >/dev/null

# Random points inside 4,000 of the demo's grids (the same units in both stores), as a Lua
# table (Lua allows 65,536 constants in a chunk, fewer than one point per grid).
POINTS="$WORK/points.lua"
{
  echo "points = {"
  psql -At -d "$DB" -F ' ' -c "select format('{%s,%s},', round(st_x(g)::numeric, 7), round(st_y(g)::numeric, 7))
      from (select (st_dump(st_generatepoints(geom, 1, 9))).geom as g from units where level = 'grid'
            order by md5(code) limit 4000) p"
  echo "}"
} >"$POINTS"

cat >"$WORK/report.lua" <<LUA
dofile("$POINTS")
local descriptions = {"井盖缺失", "路灯不亮", "人行道地砖破损", "垃圾桶满了没人清"}
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  local p = points[math.random(#points)]
  local body = string.format(
    '{"description":"%s","category":"0302","location":{"lon":%s,"lat":%s,"accuracy_m":8}}',
    descriptions[math.random(#descriptions)], p[1], p[2])
  return wrk.format(nil, "/v1/reports", nil, body)
end
LUA

# wrk's summary as "requests/s|avg|p99|non-2xx".
load() {
  local out
  out=$(wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$WORK/report.lua" "$BASE" 2>&1)
  if grep -q '\.lua:' <<<"$out"; then echo "bench_intake_http: wrk script failed: $out" >&2; exit 1; fi
  local rps avg p99 bad
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  avg=$(awk '/^ +Latency/ {print $2; exit}' <<<"$out")
  p99=$(awk '/^ +99%/ {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$rps|$avg|$p99|${bad:-0}"
}

serve() {
  RUST_LOG=error "$BIN" serve --bind "127.0.0.1:$PORT" "$@" &
  SERVER=$!
  for _ in $(seq 1 240); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER" 2>/dev/null || { echo "bench_intake_http: the server exited" >&2; exit 1; }
    sleep 0.5
  done
  curl -fsS "$BASE/readyz" >/dev/null
  # One report first: it must be accepted (inside the area, a known category).
  local p status
  p=$(sed -n 2p "$POINTS" | sed -E 's/[{}]//g; s/,$//; s/,/ /')
  status=$(curl -sS -o "$WORK/first.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"description\":\"井盖缺失\",\"category\":\"0302\",\"location\":{\"lon\":${p% *},\"lat\":${p#* }}}" "$BASE/v1/reports")
  [ "$status" = 201 ] || { echo "bench_intake_http: first report answered $status: $(cat "$WORK/first.json")" >&2; exit 1; }
}

# The embedded store's ceiling: reports/s of one writer committing one report row and two
# event rows a report, $CONNECTIONS reports a transaction, WAL, synchronous=FULL, for
# $DURATION seconds.
sqlite_ceiling() {
  python3 - "$WORK/ceiling.sqlite" "$DURATION" "$CONNECTIONS" <<'PY'
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("pragma journal_mode=wal")
db.execute("pragma synchronous=full")
db.execute("create table reports (case_id text primary key, created_at text, description text,"
           " category text, lon real, lat real, units text)")
db.execute("create table events (case_id text, seq integer, at text, actor text, action text,"
           " payload text, primary key (case_id, seq))")
batch = int(sys.argv[3])
n, end = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    db.execute("begin")
    for _ in range(batch):
        n += 1
        case = f"XL-20261202-{n:07d}"
        db.execute("insert into reports values (?, datetime('now'), '井盖缺失', '0302', 122.07, 41.12,"
                   " '{\"district\":{\"code\":\"211103\",\"name\":\"兴隆台区\"}}')", (case,))
        for seq, action in ((1, "submit"), (2, "dispatch")):
            db.execute("insert into events values (?, ?, datetime('now'), 'system', ?, '{}')",
                       (case, seq, action))
    db.execute("commit")
print(f"{n / float(sys.argv[2]):.0f}")
PY
}

# PostGIS's ceiling: pgbench transactions/s, each one report row and two event rows.
pg_ceiling() {
  psql -q -d "$CEILING_DB" <<'SQL'
create table reports (case_id bigserial primary key, created_at timestamptz, description text,
  category text, lon float8, lat float8, units jsonb);
create table events (case_id bigint, seq int, at timestamptz, actor text, action text,
  payload jsonb, primary key (case_id, seq));
SQL
  cat >"$WORK/report.sql" <<'SQL'
begin;
insert into reports (created_at, description, category, lon, lat, units)
  values (now(), '井盖缺失', '0302', 122.07, 41.12, '{"district":{"code":"211103","name":"兴隆台区"}}')
  returning case_id \gset
insert into events values (:case_id, 1, now(), 'system', 'submit', '{}'),
  (:case_id, 2, now(), 'system', 'dispatch', '{}');
commit;
SQL
  pgbench -n -c "$CONNECTIONS" -j2 -T "$DURATION" -f "$WORK/report.sql" "$CEILING_DB" 2>/dev/null \
    | awk '/^tps/ {printf "%.0f\n", $3}'
}

serve --data-dir "$WORK/sqlite"
IFS='|' read -r s_rps s_avg s_p99 s_bad < <(load)
stop_server
s_ceiling=$(sqlite_ceiling)

serve --database-url "$PG_URL" --data-dir "$WORK/unused"
IFS='|' read -r p_rps p_avg p_p99 p_bad < <(load)
stop_server
p_ceiling=$(pg_ceiling)

share() { python3 -c "print(f'{100 * float(\"$1\") / float(\"$2\"):.0f} %')"; }
echo "wrk -t2 -c$CONNECTIONS -d${DURATION}s POST /v1/reports (JSON, anonymous, random points in the demo's grids), $PROFILE profile, $(nproc) cores shared by server, wrk and database, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "| store | intake req/s | latency avg | latency p99 | non-2xx | store ceiling (reports/s) | intake / ceiling |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
echo "| embedded (SQLite, WAL, synchronous=FULL) | $s_rps | $s_avg | $s_p99 | $s_bad | $s_ceiling (python sqlite3, $CONNECTIONS reports a transaction) | $(share "$s_rps" "$s_ceiling") |"
echo "| PostGIS | $p_rps | $p_avg | $p_p99 | $p_bad | $p_ceiling (pgbench -c$CONNECTIONS, one transaction per report) | $(share "$p_rps" "$p_ceiling") |"
