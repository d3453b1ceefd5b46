#!/usr/bin/env bash
# Spring Boot fan-out (issue 18): the Herald starter on Tomcat (Spring MVC) and on Reactor Netty
# (WebFlux) next to a plain SseEmitter fan-out, in one run, with load.sh's load generator (target
# herald: GET /events?topic=, POST /events). One fresh server process per scenario and target.
#   herald-bench/scripts/spring-fanout.sh [OUTDIR]
# Env: SUBS (10000), SECS (10 per measured phase), ONE_PER_SEC_SECS (SECS),
#   TARGETS ("sse-emitter starter-mvc starter-webflux"), SCENARIOS ("idle broadcast"),
#   SERVER_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC", as ./herald starts the hub).
# Builds what it needs first (./mvnw package). The servers run on Spring Boot 3.5.7's own versions:
# the test classpath of herald-spring-boot-autoconfigure, whose BOM is Boot's (herald-bench keeps
# the versions of its other benchmarks, and benchmarks.jar holds no Spring).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-/tmp/herald-spring-fanout-$(date -u +%Y%m%dT%H%M%SZ)}
SUBS=${SUBS:-10000}
SECS=${SECS:-10}
ONE_PER_SEC_SECS=${ONE_PER_SEC_SECS:-$SECS}
TARGETS=${TARGETS:-"sse-emitter starter-mvc starter-webflux"}
SCENARIOS=${SCENARIOS:-"idle broadcast"}
SERVER_JAVA_OPTS=${SERVER_JAVA_OPTS--Xmn24m -XX:+UseParallelGC}
mkdir -p "$out"
results=$out/results.jsonl
log=$out/run.log
jar=$root/herald-bench/target/benchmarks.jar
port=18190
server_pid=""

# Every module of the reactor writes its target/classpath.txt.
(cd "$root" && ./mvnw -q -B -pl herald-bench -am package dependency:build-classpath -DskipTests \
  -Dmdep.includeScope=test -Dmdep.outputFile=target/classpath.txt >>"$log" 2>&1)
boot=$root/herald-spring-boot-autoconfigure
classpath=$root/herald-bench/target/classes:$boot/target/classes:$(cat "$boot/target/classpath.txt")

wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server on port $1 did not start" >&2
  return 1
}

start_target() { # $1 = sse-emitter | starter-mvc | starter-webflux
  port=$((port + 1))
  # shellcheck disable=SC2086
  java $SERVER_JAVA_OPTS -cp "$classpath" dev.herald.bench.spring.SpringFanOutServer "$1" "$port" \
    >"$out/$1-$scenario.log" 2>&1 &
  server_pid=$!
  wait_port "$port"
  sleep 2 # let the JVM settle before RSS is read
}

stop_target() { # the server started last, if still running
  [[ -n $server_pid ]] || return 0
  kill "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$server_pid" 2>/dev/null || true
  server_pid=""
  sleep 1
}

trap stop_target EXIT

run() { # $1 = target, $2.. = LoadGenerator arguments
  local target=$1
  shift
  echo "== $(date -u +%H:%M:%S) $target $1 load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
  timeout 600 java -Xms1g -Xmx2g -cp "$jar" dev.herald.bench.load.LoadGenerator "$@" \
    --target herald --label "$target" --port "$port" --pids "$server_pid" --json "$results" 2>&1 \
    | tee -a "$log" | grep -E '^RESULT' || true
}

warm_up() { # JIT-compile the server's publish and fan-out paths; not recorded
  echo "   warm-up" >>"$log"
  timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator broadcast --target herald \
    --port "$port" --subs 500 --seconds 4 --one-per-sec-seconds 2 >>"$log" 2>&1 || true
}

for scenario in $SCENARIOS; do
  for target in $TARGETS; do
    start_target "$target"
    case $scenario in
      idle) run "$target" idle --subs "$SUBS" --seconds 5 ;;
      broadcast)
        warm_up
        run "$target" broadcast --subs "$SUBS" --seconds "$SECS" --window 4 \
          --one-per-sec-seconds "$ONE_PER_SEC_SECS"
        ;;
    esac
    stop_target
  done
done

echo
echo "results: $results"
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = {r["scenario"]: r for r in rows if r.get("label") == "sse-emitter"}
for r in rows:
    s, t = r["scenario"], r.get("label", r["target"])
    b = base.get(s)
    if s == "idle":
        ratio = f" ({r['bytesPerConnection'] / b['bytesPerConnection']:.2f}x sse-emitter)" if b and b["bytesPerConnection"] else ""
        print(f"idle      {t:15} conns={r['subscribers']} bytes/conn={r['bytesPerConnection']}{ratio}")
    elif s == "broadcast":
        ratio = f" ({r['sustainedDeliveriesPerSec'] / b['sustainedDeliveriesPerSec']:.2f}x sse-emitter)" if b and b["sustainedDeliveriesPerSec"] else ""
        print(f"broadcast {t:15} subs={r['subscribers']} sustained={r['sustainedDeliveriesPerSec']}/s{ratio} "
              f"cpu/delivery={r.get('serverCpuUsPerDelivery')}us 1/s p50={r['onePerSecP50Ms']}ms "
              f"p99={r['onePerSecP99Ms']}ms delivered={r['onePerSecDelivered']}/{r['onePerSecExpected']} "
              f"closed={r['closedStreams']}")
PY
