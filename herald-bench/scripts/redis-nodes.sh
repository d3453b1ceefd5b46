#!/usr/bin/env bash
# Cluster load test (issue 7): publish throughput and broadcast fan-out with 1 and with 3 hub nodes
# sharing one Redis, in one run. Publishers and subscribers are spread round-robin over the nodes.
#   herald-bench/scripts/redis-nodes.sh [OUTDIR]
# Env: NODES ("1 3"), SUBS (9000), SECS (10), PUBLISHERS (64), REDIS_URL (redis://127.0.0.1:6379),
#   BENCH_JAR, HERALD_JAR, HERALD_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC", as load.sh).
# Needs: benchmarks.jar and herald.jar built (see load.sh), a Redis at REDIS_URL; every run uses its
# own key prefix and deletes its keys afterwards.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
herald_jar=${HERALD_JAR:-$root/herald-cli/target/herald.jar}
out=${1:-/tmp/herald-redis-nodes-$(date -u +%Y%m%dT%H%M%SZ)}
NODES=${NODES:-"1 3"}
SUBS=${SUBS:-9000}
SECS=${SECS:-10}
PUBLISHERS=${PUBLISHERS:-64}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
redis_host=$(sed -E 's#^rediss?://([^@]*@)?([^:/]+).*#\2#' <<<"$REDIS_URL")
redis_port=$(sed -nE 's#^rediss?://([^@]*@)?[^:/]+:([0-9]+).*#\2#p' <<<"$REDIS_URL")
redis_port=${redis_port:-6379}
mkdir -p "$out"
results=$out/results.jsonl
log=$out/run.log
node_pids=()
ports=()

wait_port() {
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server on port $1 did not start" >&2
  return 1
}

start_nodes() { # $1 = number of nodes, $2 = key prefix
  node_pids=()
  ports=()
  for i in $(seq 1 "$1"); do
    local port=$((18200 + i))
    # shellcheck disable=SC2086
    java ${HERALD_JAVA_OPTS--Xmn24m -XX:+UseParallelGC} -jar "$herald_jar" serve --port "$port" --bind 127.0.0.1 \
      --store "$REDIS_URL" --redis-key-prefix "$2" \
      --max-connections 0 --max-connections-per-ip 0 \
      --max-new-connections-per-second 0 --publish-rate 0 >"$out/node-$1-$i.log" 2>&1 &
    node_pids+=("$!")
    ports+=("$port")
  done
  for port in "${ports[@]}"; do wait_port "$port"; done
  sleep 2
}

stop_nodes() {
  for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
}

delete_keys() { # $1 = key prefix
  redis-cli -h "$redis_host" -p "$redis_port" --scan --pattern "{$1}*" |
    xargs -r -n 500 redis-cli -h "$redis_host" -p "$redis_port" del >/dev/null
}

run() { # $1 = label, $2.. = LoadGenerator arguments
  local label=$1
  shift
  local list pids
  list=$(IFS=,; echo "${ports[*]}")
  pids=$(IFS=,; echo "${node_pids[*]}")
  echo "== $(date -u +%H:%M:%S) $label $1 load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
  timeout 600 java -Xms1g -Xmx2g -cp "$jar" dev.herald.bench.load.LoadGenerator "$@" \
    --target herald --label "$label" --port "$list" --pids "$pids" --json "$results" 2>&1 |
    tee -a "$log" | grep -E '^RESULT' || true
}

for n in $NODES; do
  prefix="bench-$(date +%s%N)-$n:"
  start_nodes "$n" "$prefix"
  label="redis-${n}node"
  # warm-up, not recorded: JIT-compile every node's publish and fan-out paths
  timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator broadcast --target herald \
    --port "$(IFS=,; echo "${ports[*]}")" --subs 600 --seconds 4 >>"$log" 2>&1 || true
  timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator publish --target herald \
    --port "$(IFS=,; echo "${ports[*]}")" --publishers 16 --seconds 8 >>"$log" 2>&1 || true
  run "$label" publish --seconds "$SECS" --publishers "$PUBLISHERS" --publisher-threads 2
  run "$label" broadcast --subs "$SUBS" --seconds "$SECS" --window 4
  stop_nodes
  delete_keys "$prefix"
done

echo
echo "results: $results"
python3 - "$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    s, t = r["scenario"], r.get("label")
    if s == "publish":
        print(f"publish   {t:13} acked={r['ackedPerSec']}/s failed={r['failed']}")
    elif s == "broadcast":
        print(f"broadcast {t:13} subs={r['subscribers']} sustained={r['sustainedDeliveriesPerSec']}/s "
              f"1/s p50={r['onePerSecP50Ms']}ms p99={r['onePerSecP99Ms']}ms "
              f"delivered={r['onePerSecDelivered']}/{r['onePerSecExpected']} closed={r['closedStreams']}")
PY
