#!/usr/bin/env bash
# Hub load tests (issue 5): runs each scenario against the trivial fan-out server, Nchan and the
# Herald hub in one run (one fresh server process per scenario and target), then prints the table.
#   herald-bench/scripts/load.sh [OUTDIR]
# Env: SUBS (10000), SECS (10 per measured phase), ONE_PER_SEC_SECS (30: the 1/s broadcast phase),
#   RATES (per-member publish rates to step through),
#   TARGETS ("trivial nchan nchan-auto herald"; nchan-auto: nginx with worker_processes auto),
#   SCENARIOS ("idle broadcast members publish"),
#   BENCH_JAR (herald-bench/target/benchmarks.jar), HERALD_JAR (herald-cli/target/herald.jar), HERALD_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC", as ./herald; "" for the JVM defaults),
#   HERALD_BASE_JAR and HERALD_BASE_JAVA_OPTS (targets herald-base and herald-base-sqlite: another build or JVM options to compare in the same run),
#   HERALD_SERVE_ARGS and HERALD_BASE_SERVE_ARGS (extra `serve` flags for herald/herald-sqlite and for herald-base, e.g. "--io-threads 1"),
#   HERALD_CLASSPATH (instead of HERALD_JAR, e.g. "herald-sqlite/target/classes:herald.jar" to try one module's build),
#   TRIVIAL_JAVA_OPTS (the trivial server's JVM options; none by default),
#   PUB_THREADS (publish scenario: event loop threads the 64 publishing connections are spread over; 2).
# Needs: herald-bench/target/benchmarks.jar (./mvnw -q -B -pl herald-bench package -DskipTests),
# herald-cli/target/herald.jar, and nginx + libnginx-mod-nchan (scripts/nchan.sh installs them).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
herald_jar=${HERALD_JAR:-$root/herald-cli/target/herald.jar}
out=${1:-/tmp/herald-load-$(date -u +%Y%m%dT%H%M%SZ)}
SUBS=${SUBS:-10000}
SECS=${SECS:-10}
ONE_PER_SEC_SECS=${ONE_PER_SEC_SECS:-30}
RATES=${RATES:-1000,2500,5000,10000,15000,20000,25000,30000,35000,40000,45000,50000}
TARGETS=${TARGETS:-"trivial nchan nchan-auto herald"}
SCENARIOS=${SCENARIOS:-"idle broadcast members publish"}
PUB_THREADS=${PUB_THREADS:-2}
mkdir -p "$out"
results=$out/results.jsonl
log=$out/run.log
port=18090
server_pid=""
pids=""

wait_port() {
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server on port $1 did not start" >&2
  return 1
}

start_target() { # $1 = trivial | nchan | nchan-auto | herald | herald-sqlite | herald-base | herald-base-sqlite
  port=$((port + 1))
  case $1 in
    trivial)
      # shellcheck disable=SC2086
      java ${TRIVIAL_JAVA_OPTS-} -cp "$jar" dev.herald.bench.load.TrivialFanOutServer "$port" >"$out/trivial.log" 2>&1 &
      server_pid=$!
      pids=$server_pid
      ;;
    nchan | nchan-auto)
      local workers=1
      [[ $1 == nchan-auto ]] && workers=auto
      rm -rf "$out/$1-$scenario" # kept afterwards: its error.log tells what Nchan complained of
      server_pid=$("$root/herald-bench/scripts/nchan.sh" start "$port" "$out/$1-$scenario" "$workers")
      ;;
    herald | herald-sqlite | herald-base | herald-base-sqlite)
      local store=memory jar_file=$herald_jar
      [[ $1 == herald-base* ]] && jar_file=$HERALD_BASE_JAR
      if [[ $1 == *-sqlite ]]; then
        rm -rf "$out/sqlite"
        mkdir -p "$out/sqlite"
        store=sqlite:$out/sqlite/events.db
      fi
      local launch=(-jar "$jar_file") opts=${HERALD_JAVA_OPTS--Xmn24m -XX:+UseParallelGC}
      local extra=${HERALD_SERVE_ARGS:-}
      [[ $1 == herald-base* ]] && opts=${HERALD_BASE_JAVA_OPTS-$opts} && extra=${HERALD_BASE_SERVE_ARGS:-}
      [[ -n ${HERALD_CLASSPATH:-} && $1 != herald-base* ]] && launch=(-cp "$HERALD_CLASSPATH" dev.herald.cli.Herald)
      # shellcheck disable=SC2086
      java $opts "${launch[@]}" serve --port "$port" --bind 127.0.0.1 \
        --store "$store" --max-connections 0 --max-connections-per-ip 0 \
        --max-new-connections-per-second 0 --publish-rate 0 $extra >"$out/$1.log" 2>&1 &
      server_pid=$!
      pids=$server_pid
      ;;
  esac
  wait_port "$port"
  sleep 2 # let a JVM finish starting before RSS is read
  if [[ $1 == nchan* ]]; then
    # the master and its workers (found by parent pid)
    pids="$server_pid,$(pgrep -P "$server_pid" | paste -sd,)"
  fi
}

stop_target() { # $1 = target
  if [[ $1 == nchan* ]]; then
    "$root/herald-bench/scripts/nchan.sh" stop "$out/$1-$scenario"
  else
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
  sleep 1
}

run() { # $1 = target, $2.. = LoadGenerator arguments
  local target=$1
  shift
  local name=${target%-sqlite}
  name=${name%-base}
  name=${name%-auto}
  echo "== $(date -u +%H:%M:%S) $target $1 load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
  timeout 600 java -Xms1g -Xmx2g -cp "$jar" dev.herald.bench.load.LoadGenerator "$@" \
    --target "$name" --label "$target" --port "$port" --pids "$pids" --json "$results" 2>&1 | tee -a "$log" | grep -E '^(RESULT|  step)' || true
}

warm_up() { # $1 = target: JIT-compile the server's publish and fan-out paths; not recorded
  local name=${1%-sqlite}
  name=${name%-base}
  name=${name%-auto}
  echo "   warm-up $1" >>"$log"
  timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator broadcast --target "$name" \
    --port "$port" --subs 500 --seconds 4 >>"$log" 2>&1 || true
  timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator publish --target "$name" \
    --port "$port" --publishers 16 --publisher-threads "$PUB_THREADS" --seconds 8 >>"$log" 2>&1 || true
}

for scenario in $SCENARIOS; do
  targets=$TARGETS
  [[ $scenario == publish ]] && targets="$TARGETS herald-sqlite"
  for target in $targets; do
    start_target "$target"
    # idle is measured cold (RSS of a fresh process); every other scenario after a warm-up
    [[ $scenario != idle ]] && warm_up "$target"
    case $scenario in
      idle) run "$target" idle --subs "$SUBS" --seconds 5 ;;
      broadcast) run "$target" broadcast --subs "$SUBS" --seconds "$SECS" --window 4 \
        --one-per-sec-seconds "$ONE_PER_SEC_SECS" ;;
      members) run "$target" members --subs "$SUBS" --seconds "$SECS" --rates "$RATES" --publishers 128 ;;
      publish) run "$target" publish --seconds "$SECS" --publishers 64 --publisher-threads "$PUB_THREADS" ;;
    esac
    stop_target "$target"
  done
done

echo
echo "results: $results"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def get(scn, tgt, key, pub_store=None):
    for r in rows:
        if r["scenario"] == scn and r["target"] == tgt:
            return r.get(key)
    return None
for r in rows:
    s, t = r["scenario"], r.get("label", r["target"])
    if s == "idle":
        print(f"idle      {t:13} conns={r['subscribers']} bytes/conn={r['bytesPerConnection']}")
    elif s == "broadcast":
        print(f"broadcast {t:13} subs={r['subscribers']} sustained={r['sustainedDeliveriesPerSec']}/s "
              f"1/s p50={r['onePerSecP50Ms']}ms p99={r['onePerSecP99Ms']}ms "
              f"delivered={r['onePerSecDelivered']}/{r['onePerSecExpected']} closed={r['closedStreams']} "
              f"cpu/delivery={r.get('serverCpuUsPerDelivery')}us "
              f"(generator {r.get('loadGenCpuUsPerDelivery')}us; "
              f"1/s {r.get('onePerSecServerCpuUsPerDelivery')}us)")
    elif s == "members":
        first = r["steps"][0] if r["steps"] else {}
        best = next((x for x in r["steps"] if x.get("ok") and x["targetRate"] == r["maxOkRate"]), {})
        print(f"members   {t:13} subs={r['subscribers']} maxOk={r['maxOkRate']}/s "
              f"p99@{first.get('targetRate')}={first.get('p99Ms')}ms "
              f"cpu/event@max={best.get('serverCpuUsPerEvent')}us "
              f"(generator {best.get('loadGenCpuUsPerEvent')}us)")
    elif s == "publish":
        print(f"publish   {t:13} acked={r['ackedPerSec']}/s failed={r['failed']} "
              f"connections={r['publishers']} threads={r.get('publisherThreads', 1)}")
PY
