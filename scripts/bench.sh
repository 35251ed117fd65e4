#!/usr/bin/env bash
# Load benchmark: sessionsvc against the no-store ceilings and its peers, side
# by side in one run, on loopback only.
#
# Two ceilings, both Gin with no session store (scripts/bench/peers):
# "ceiling" renders the pages and does nothing else; "ceiling-logged" also
# sends sessionsvc's headers and writes its JSON request line to standard
# output (/dev/null here, as for sessionsvc) the way sessionsvc does:
# through slog.JSONHandler and the service's log buffer (internal/logbuf),
# and with GOGC=200, which sessionsvc sets for itself. The second is the fair
# ceiling for anonymous pages, which need no session: what sets sessionsvc
# apart from it is its session middleware and checks, and there the goal is
# at least 0.95x its req/s ("x fair").
#
# Starts one private redis-server (TCP on a free loopback port, nothing saved
# to disk), builds and starts every stack on its own free port, creates
# sessions through each stack's own POST /set_email, then runs each scenario
# with wrk against every stack in turn (a 1 s warm-up in the first round,
# then the measured run), for several rounds that start each at another
# stack, and prints one table per scenario with each stack's median run.
# Every process it starts is stopped on exit, by PID.
#
#   scripts/bench.sh [--duration SECONDS] [--connections N] [--sessions N]
#                    [--rounds N] [--scenarios "read ..."] [--baseline GIT-REV]...
#                    [--peers] [--sql] [--memcached] [--mongodb] [--profile DIR]
#
#   --duration    seconds per measured run (default 3)
#   --connections wrk connections (default 32, on 2 wrk threads)
#   --sessions    sessions per stack that the requests cycle through (default 200)
#   --rounds      measure everything N times, interleaved, and report for each
#                 stack and scenario the run with the median req/s (default 3)
#   --scenarios   which of read, write-same, write-change, write-pref, anon to
#                 run (default all)
#   --baseline    also build sessionsvc as of GIT-REV (git archive, so the
#                 work tree is untouched) and measure it beside the current one
#   --peers       also measure Express 5 + express-session + connect-redis
#                 (npm install into a cache dir) and the tutorial's Flask +
#                 Flask-Session 0.3.2 under gunicorn with 2 workers (Debian
#                 packages python3-flask python3-flask-session python3-redis gunicorn)
#   --sql         also measure SESSION_TYPE=sqlalchemy on PostgreSQL beside
#                 gin-contrib/sessions' postgres store (lib/pq, as its tests
#                 set it up), and on MariaDB and SQLite: each in a database
#                 of its own on the servers at TEST_POSTGRES_URL and
#                 TEST_MYSQL_URL (the tests' defaults), dropped on exit. The
#                 Redis columns do not apply to these stacks
#   --memcached   also measure SESSION_TYPE=memcached beside gin-contrib/sessions'
#                 memcached store (with a 30-day lifetime: it loses every
#                 session with 31), both on one private memcached (Debian:
#                 apt-get install memcached). The Redis columns do not apply
#   --mongodb     also measure SESSION_TYPE=mongodb beside gin-contrib/sessions'
#                 mongo/mongodriver store (ensureTTL=false), both on the MongoDB
#                 at $MONGODB_URL, or else on a private FerretDB built from
#                 scripts/ferretdb (the tests' MongoDB-wire server), in the
#                 databases bench_sessionsvc and bench_stock. The Redis
#                 columns do not apply
#   --profile     build sessionsvc with -tags pprof and save CPU profiles of
#                 its read and write-change runs (the last round's) to DIR
#
# Needs go, redis-server, redis-cli, wrk and curl (Debian/Ubuntu:
# apt-get install redis-server wrk curl). The service runs with the
# production settings: GIN_MODE=release SESSION_TYPE=redis
# SESSION_USE_SIGNER=true SESSION_PERMANENT=false and a random 64-character
# SECRET_KEY; its JSON request log goes to /dev/null. (Every stack's
# standard output goes there; its standard error to a file that is shown
# when the stack does not start.)
#
# Columns: req/s, its ratio to the ceiling ("x") and to ceiling-logged
# ("x fair"); median and 99th percentile latency (ms) and their ratios to the
# ceiling; CPU time (user + system) the stack's processes spent per request,
# in microseconds, and its ratios to the ceiling and to ceiling-logged:
# steadier than req/s when other jobs share the machine; read and write system
# calls per request ("I/O": syscr + syscw of /proc/PID/io, which leave out
# send and recv); the same CPU figure for Redis; Redis commands per request
# (INFO commandstats); Redis connections opened during the measured run
# (total_connections_received); peak RSS of the stack's processes during the
# run (VmHWM, reset before each run) and its ratio; responses that were not
# 2xx/3xx plus socket errors ("bad", which must be 0).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

duration=3
conns=32
nsessions=200
rounds=3
scenarios="read write-same write-change write-pref anon"
baselines=()
peers=false
sql=false
memcached=false
mongodb=false
profile_dir=
while [ $# -gt 0 ]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --connections) conns=$2; shift 2 ;;
    --sessions) nsessions=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --scenarios) scenarios=$2; shift 2 ;;
    --baseline) baselines+=("$2"); shift 2 ;;
    --peers) peers=true; shift ;;
    --sql) sql=true; shift ;;
    --memcached) memcached=true; shift ;;
    --mongodb) mongodb=true; shift ;;
    --profile) profile_dir=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "bench: $1 not found: $2" >&2; exit 1; }
}
need go "install Go 1.26 or newer"
need redis-server "apt-get install redis-server (macOS: brew install redis)"
need redis-cli "apt-get install redis-tools (macOS: brew install redis)"
need wrk "apt-get install wrk (macOS: brew install wrk)"
need curl "apt-get install curl"
if $memcached; then
  need memcached "apt-get install memcached (macOS: brew install memcached)"
fi
if $peers; then
  need node "apt-get install nodejs npm"
  need npm "apt-get install npm"
  need gunicorn "apt-get install gunicorn python3-flask python3-flask-session python3-redis"
  /usr/bin/python3 -c 'import flask, flask_session, redis' 2>/dev/null ||
    { echo "bench: Flask-Session not importable by /usr/bin/python3: apt-get install python3-flask python3-flask-session python3-redis" >&2; exit 1; }
fi

tmp=$(mktemp -d /tmp/sessionsvc-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# --sql: a database of the benchmark's own on PostgreSQL and on MariaDB.
if $sql; then
  need psql "apt-get install postgresql-client"
  need mariadb "apt-get install mariadb-client"
  pg_url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
  my_url=${TEST_MYSQL_URL:-mysql://root@127.0.0.1:3306/}
  bench_db=sessionsvc_bench_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
  # mysql://user[:password]@host[:port]/... as the mariadb client's options
  my_user=$(echo "$my_url" | sed -E 's#^[a-z]+://([^:@/]*).*#\1#')
  my_pass=$(echo "$my_url" | sed -nE 's#^[a-z]+://[^:@/]*:([^@/]*)@.*#\1#p')
  my_host=$(echo "$my_url" | sed -E 's#^[a-z]+://([^@/]*@)?([^:/]*).*#\2#')
  my_port=$(echo "$my_url" | sed -nE 's#^[a-z]+://([^@/]*@)?[^:/]*:([0-9]+).*#\2#p')
  mysql_cli() { MYSQL_PWD=$my_pass mariadb -h "$my_host" -P "${my_port:-3306}" -u "$my_user" "$@"; }
  psql "$pg_url" -qc "CREATE DATABASE $bench_db" >/dev/null
  mysql_cli -e "CREATE DATABASE $bench_db"
  pg_bench=$(echo "$pg_url" | sed -E "s#^([a-z]+://[^/]*)/[^?]*#\1/$bench_db#")
  my_bench="mysql://$my_user${my_pass:+:$my_pass}@$my_host:${my_port:-3306}/$bench_db"
  trap 'cleanup; psql "$pg_url" -qc "DROP DATABASE IF EXISTS $bench_db WITH (FORCE)" >/dev/null; mysql_cli -e "DROP DATABASE IF EXISTS $bench_db"' EXIT
fi

# free_port prints a loopback port nobody listens on, below the kernel's
# ephemeral range so that no outgoing connection holds it either.
free_port() {
  local p lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  while :; do
    p=$((10000 + RANDOM % (lo - 10000)))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
}

# wait_http waits until url answers, or fails after 20 s showing log.
wait_http() { # url log
  for _ in $(seq 200); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not answer within 20 s; its log:" >&2
  tail -n 20 "$2" >&2
  exit 1
}

echo "# building" >&2
(cd "$repo" && go build -trimpath ${profile_dir:+-tags pprof} -o "$tmp/sessionsvc" .)
(cd "$here/bench" && go build -trimpath -o "$tmp/peers" ./peers && go build -trimpath -o "$tmp/memory" ./memory)
for rev in "${baselines[@]}"; do
  dir="$tmp/src-$rev"
  mkdir -p "$dir"
  git -C "$repo" archive "$rev" | tar -x -C "$dir"
  (cd "$dir" && go build -trimpath -o "$tmp/sessionsvc-$rev" .)
done

rport=$(free_port)
redis-server --bind 127.0.0.1 --port "$rport" --save "" --appendonly no --dir "$tmp" \
  --logfile "$tmp/redis.log" --databases 32 &
pids+=($!)
rcli() { redis-cli -p "$rport" "$@"; }
for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.1; done
rcli PING >/dev/null

secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

# Each stack: a name, its port, its Redis database ("-" for none, "other" for
# a stack that keeps sessions in another store), its PID.
stacks=()
declare -A port db pid
start_stack() { # name db command... ("@PORT@" in the command is replaced by the port)
  local name=$1 d=$2 p rdb=$2
  shift 2
  [[ $rdb =~ ^[0-9]+$ ]] || rdb=0
  p=$(free_port)
  port[$name]=$p db[$name]=$d
  (cd "$tmp" && exec env -i PATH="$PATH" HOME="$HOME" PORT="$p" REDIS_ADDR="127.0.0.1:$rport" REDIS_DB="$rdb" \
    SESSION_REDIS="redis://127.0.0.1:$rport/$rdb" SECRET_KEY="$secret" "${@//@PORT@/$p}" >/dev/null 2>"$tmp/$name.log") &
  pid[$name]=$!
  pids+=($!)
  stacks+=("$name")
  wait_http "http://127.0.0.1:$p/healthz" "$tmp/$name.log"
}

# The service as deployed, from an empty working directory (no .env) with
# nothing but these settings in its environment.
product=(env GIN_MODE=release SESSION_TYPE=redis SESSION_USE_SIGNER=true SESSION_PERMANENT=false HOST=127.0.0.1)

echo "# starting the stacks" >&2
start_stack ceiling - "$tmp/peers" -stack ceiling
start_stack ceiling-logged - env GOGC=200 "$tmp/peers" -stack ceiling-logged
pprof_port=$(free_port)
start_stack sessionsvc 1 "${product[@]}" ${profile_dir:+PPROF_ADDR=127.0.0.1:$pprof_port} "$tmp/sessionsvc"
n=2
for rev in "${baselines[@]}"; do
  start_stack "sessionsvc@$rev" $n "${product[@]}" "$tmp/sessionsvc-$rev"
  n=$((n + 1))
done
start_stack gin-contrib-tuned 20 "$tmp/peers" -stack stock-tuned
start_stack gin-contrib-readme 0 "$tmp/peers" -stack stock-readme
if $sql; then
  start_stack sessionsvc-postgres other "${product[@]}" SESSION_TYPE=sqlalchemy SQLALCHEMY_DATABASE_URI="$pg_bench" "$tmp/sessionsvc"
  start_stack gin-contrib-postgres other env DATABASE_URL="$pg_bench" "$tmp/peers" -stack stock-postgres
  start_stack sessionsvc-mariadb other "${product[@]}" SESSION_TYPE=sqlalchemy SQLALCHEMY_DATABASE_URI="$my_bench" "$tmp/sessionsvc"
  start_stack sessionsvc-sqlite other "${product[@]}" SESSION_TYPE=sqlalchemy SQLALCHEMY_DATABASE_URI="sqlite:///$tmp/sessions.db" "$tmp/sessionsvc"
fi
if $memcached; then
  mport=$(free_port)
  memcached -l 127.0.0.1 -p "$mport" -U 0 -m 256 $([ "$(id -u)" -ne 0 ] || echo -u nobody) >"$tmp/memcached.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mport") 2>/dev/null && break; sleep 0.1; done
  start_stack sessionsvc-memcached other "${product[@]}" SESSION_TYPE=memcached SESSION_MEMCACHED="127.0.0.1:$mport" "$tmp/sessionsvc"
  start_stack gin-contrib-memcached other env MEMCACHED_ADDR="127.0.0.1:$mport" "$tmp/peers" -stack stock-memcached
fi
if $mongodb; then
  mongo_url=${MONGODB_URL:-}
  if [ -z "$mongo_url" ]; then
    (cd "$here/ferretdb" && go build -trimpath -o "$tmp/ferretdb" .)
    mkdir "$tmp/ferretdb-data"
    # It prints its URI once it listens, and stops when its standard input closes.
    coproc ferret { exec "$tmp/ferretdb" -dir "$tmp/ferretdb-data" 2>"$tmp/ferretdb.log"; }
    pids+=("$ferret_PID")
    read -r -t 60 mongo_url <&"${ferret[0]}" || { echo "bench: FerretDB did not start; its log:" >&2; tail -n 20 "$tmp/ferretdb.log" >&2; exit 1; }
  fi
  start_stack sessionsvc-mongodb other "${product[@]}" SESSION_TYPE=mongodb SESSION_MONGODB="$mongo_url" SESSION_MONGODB_DB=bench_sessionsvc "$tmp/sessionsvc"
  start_stack gin-contrib-mongodb other env MONGODB_URL="$mongo_url" "$tmp/peers" -stack stock-mongodb
fi
if $peers; then
  cache=${XDG_CACHE_HOME:-$HOME/.cache}/sessionsvc-bench/express
  mkdir -p "$cache"
  cp "$here/bench/express/package.json" "$here/bench/express/app.js" "$cache/"
  (cd "$cache" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
  start_stack express 21 env NODE_ENV=production node "$cache/app.js"
  start_stack flask 22 /usr/bin/python3 -B -m gunicorn --chdir "$here/bench/flask" --workers 2 --bind 127.0.0.1:@PORT@ app:app
fi

# Sessions: the first holds "a@b.c" and is measured with MEMORY USAGE while
# it is alone in its database; then the ones the load cycles through.
cookie_of() { # url email -> "name=value" of the Set-Cookie, or nothing
  curl -s -o /dev/null -D - --data-urlencode "email_address=$2" "$1/set_email" |
    tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1
}
declare -A session_bytes index_bytes
echo "# creating $nsessions sessions per stack" >&2
for s in "${stacks[@]}"; do
  url="http://127.0.0.1:${port[$s]}"
  : >"$tmp/$s.sessions"
  session_bytes[$s]=- index_bytes[$s]=-
  if [ "${db[$s]}" = - ]; then
    for i in $(seq "$nsessions"); do echo "session=x user$i@example.com" >>"$tmp/$s.sessions"; done
    continue
  fi
  if [ "${db[$s]}" != other ]; then
    c=$(cookie_of "$url" a@b.c)
    # sessionsvc also keeps a per-email index (by-email:*) beside the session.
    keys=$(rcli -n "${db[$s]}" --scan | grep -vc '^by-email:' || true)
    [ -n "$c" ] && [ "$keys" = 1 ] || { echo "bench: $s: POST /set_email gave cookie '$c' and $keys session keys, want one of each" >&2; exit 1; }
    session_bytes[$s]=$(rcli -n "${db[$s]}" MEMORY USAGE "$(rcli -n "${db[$s]}" --scan | grep -v '^by-email:' | head -n 1)")
    index=$(rcli -n "${db[$s]}" --scan --pattern 'by-email:*' | head -n 1)
    [ -z "$index" ] || index_bytes[$s]=$(rcli -n "${db[$s]}" MEMORY USAGE "$index")
  fi
  for i in $(seq "$nsessions"); do
    c=$(cookie_of "$url" "user$i@example.com")
    [ -n "$c" ] || { echo "bench: $s: POST /set_email sent no cookie" >&2; exit 1; }
    echo "$c user$i@example.com" >>"$tmp/$s.sessions"
  done
  c=$(head -n 1 "$tmp/$s.sessions" | cut -d' ' -f1)
  curl -s -b "$c" "$url/get_email" | grep -q 'Welcome user1@example.com!' ||
    { echo "bench: $s: GET /get_email with the first session does not greet user1@example.com" >&2; exit 1; }
done

# tree_pids prints pid and its descendants (gunicorn's workers, npm's node).
tree_pids() {
  local p=$1 c
  echo "$p"
  for c in $(cat "/proc/$p/task/"*/children 2>/dev/null); do tree_pids "$c"; done
}
rss_reset() { for p in $(tree_pids "$1"); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
tree_sum() { # pid file awk-program -> the program's number for pid and each descendant, summed
  local total=0 p v
  for p in $(tree_pids "$1"); do
    v=$(awk "$3" "/proc/$p/$2" 2>/dev/null || echo 0)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
rss_peak_kib() { tree_sum "$1" status '/^VmHWM:/ {print $2}'; }
cpu_ticks() { tree_sum "$1" stat '{print $14 + $15}'; } # user+system CPU time, in clock ticks
syscalls() { tree_sum "$1" io '/^sysc[rw]:/ {n += $2} END {print n}'; } # read and write system calls
hz=$(getconf CLK_TCK)
redis_pid=${pids[0]}

run_wrk() { # stack scenario seconds -> RESULT line
  WRK_SCENARIO=$2 wrk -t2 -c"$conns" -d"$3s" -s "$here/bench/wrk.lua" "http://127.0.0.1:${port[$1]}" -- "$2" "$tmp/$1.sessions" |
    grep '^RESULT' || { echo "bench: wrk against $1 failed" >&2; exit 1; }
}

results="$tmp/results"
: >"$results"
for round in $(seq "$rounds"); do
for scenario in $scenarios; do
  for i in "${!stacks[@]}"; do
    s=${stacks[(i + round - 1) % ${#stacks[@]}]}
    echo "# round $round, $scenario: $s" >&2
    [ "$round" -gt 1 ] || run_wrk "$s" "$scenario" 1 >/dev/null
    rcli CONFIG RESETSTAT >/dev/null
    rss_reset "${pid[$s]}"
    profile_pid=
    if [ -n "$profile_dir" ] && [ "$s" = sessionsvc ] && { [ "$scenario" = read ] || [ "$scenario" = write-change ] || [ "$scenario" = anon ]; }; then
      curl -s -o "$profile_dir/$scenario.pprof" "http://127.0.0.1:$pprof_port/debug/pprof/profile?seconds=$((duration > 5 ? 5 : duration))" &
      profile_pid=$!
    fi
    cpu0=$(cpu_ticks "${pid[$s]}") rcpu0=$(cpu_ticks "$redis_pid") sys0=$(syscalls "${pid[$s]}")
    line=$(run_wrk "$s" "$scenario" "$duration")
    cpu1=$(cpu_ticks "${pid[$s]}") rcpu1=$(cpu_ticks "$redis_pid") sys1=$(syscalls "${pid[$s]}")
    [ -z "$profile_pid" ] || wait "$profile_pid"
    info=$(rcli INFO all | tr -d '\r')
    calls=$(echo "$info" | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" && $1 != "cmdstat_config|resetstat" {n += $3} END {print n + 0}')
    newconns=$(echo "$info" | awk -F: '/^total_connections_received:/ {print $2 - 1}') # less this INFO's own
    echo "$scenario $s $line calls=$calls newconns=$newconns rss_kib=$(rss_peak_kib "${pid[$s]}") cpu_us=$(((cpu1 - cpu0) * 1000000 / hz)) syscalls=$((sys1 - sys0)) redis_cpu_us=$(((rcpu1 - rcpu0) * 1000000 / hz))" >>"$results"
  done
done
done

# The report.
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
echo "sessionsvc load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
echo "machine: $(nproc) CPUs ($cpu), $(awk '/^MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo "tools: $(go version | cut -d' ' -f3), redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/'), wrk -t2 -c$conns, ${duration}s per run, $rounds round(s) (median shown), $nsessions sessions per stack"
echo "sessionsvc: GIN_MODE=release SESSION_TYPE=redis SESSION_USE_SIGNER=true SESSION_PERMANENT=false"
for scenario in $scenarios; do
  echo
  case $scenario in
    read) echo "## read: GET /get_email with a session" ;;
    write-same) echo "## write-same: POST /set_email with the address the session holds" ;;
    write-change) echo "## write-change: POST /set_email with a new address each time" ;;
    write-pref) echo "## write-pref: POST /preferences with the other theme each time" ;;
    anon) echo "## anon: GET /get_email without a cookie" ;;
  esac
  awk -v scenario="$scenario" '
    function field(name,   i, kv) { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == name) return kv[2] } }
    $1 == scenario {
      if (!($2 in count)) order[++n] = $2
      k = ++count[$2]; row[$2, k] = $0; rate[$2, k] = field("requests") / (field("duration_us") / 1e6)
    }
    # median returns the row of stack s with the median req/s.
    function median(s,   i, j, m, t, idx) {
      m = count[s]
      for (i = 1; i <= m; i++) idx[i] = i
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (rate[s, idx[j]] < rate[s, idx[i]]) { t = idx[i]; idx[i] = idx[j]; idx[j] = t }
      return row[s, idx[int((m + 1) / 2)]]
    }
    END {
      $0 = median("ceiling")
      crps = field("requests") / (field("duration_us") / 1e6); cp50 = field("p50_us"); cp99 = field("p99_us"); crss = field("rss_kib")
      ccpu = field("cpu_us") / field("requests")
      $0 = median("ceiling-logged")
      frps = field("requests") / (field("duration_us") / 1e6); fcpu = field("cpu_us") / field("requests")
      printf "%-22s %8s %6s %6s %8s %6s %8s %6s %7s %6s %6s %5s %7s %9s %9s %9s %6s %5s\n", "stack", "req/s", "x", "x fair", "p50 ms", "x", "p99 ms", "x", "CPU us", "x", "x fair", "I/O", "Redis", "cmds/req", "new conns", "RSS MiB", "x", "bad"
      for (i = 1; i <= n; i++) {
        $0 = median(order[i])
        rps = field("requests") / (field("duration_us") / 1e6)
        p50 = field("p50_us"); p99 = field("p99_us"); rss = field("rss_kib")
        cpu = field("cpu_us") / field("requests")
        printf "%-22s %8.0f %6.2f %6.2f %8.3f %6.2f %8.3f %6.2f %7.1f %6.2f %6.2f %5.2f %7.1f %9.3f %9d %9.1f %6.2f %5d\n", $2, rps, rps / crps, rps / frps, p50 / 1000, p50 / cp50, p99 / 1000, p99 / cp99,
          cpu, cpu / ccpu, cpu / fcpu, field("syscalls") / field("requests"), field("redis_cpu_us") / field("requests"), field("calls") / field("requests"), field("newconns"), rss / 1024, rss / crss, field("bad_status") + field("socket_errors")
      }
    }' "$results"
done
echo
echo "## Redis memory per session holding {\"email\":\"a@b.c\"} (MEMORY USAGE, bytes)"
printf '%-22s %7s %13s\n' stack session "email index"
for s in "${stacks[@]}"; do
  [ "${session_bytes[$s]}" = - ] || printf '%-22s %7s %13s\n' "$s" "${session_bytes[$s]}" "${index_bytes[$s]}"
done
echo
echo "## Redis memory per session by key and value encoding (MEMORY USAGE, bytes)"
REDIS_ADDR="127.0.0.1:$rport" REDIS_DB=31 "$tmp/memory"
