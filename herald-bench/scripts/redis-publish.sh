#!/usr/bin/env bash
# Redis publish throughput (issue 21): acknowledged publishes/s of one hub node on one Redis, for
# two builds of the hub (HERALD_BASE_JAR, e.g. main before the group commit, and HERALD_JAR), with
# the memory store as reference, alternating the targets round by round in one run so that the
# machine's load weighs on each alike. Redis (and, for the redis-min1 target, one replica) are
# redis-server children of this script on free ports, without persistence, deleted afterwards.
#   herald-bench/scripts/redis-publish.sh [OUTDIR]
# Env: ROUNDS (3), SECS (10), PUBLISHERS (64), PUB_THREADS (2),
#   TARGETS ("base-redis redis memory redis-min1"; base-* run HERALD_BASE_JAR; redis-min1 runs
#   HERALD_JAR with --redis-min-replicas 1 against a master with one replica),
#   HERALD_JAR (herald-cli/target/herald.jar), HERALD_BASE_JAR, BENCH_JAR
#   (herald-bench/target/benchmarks.jar), HERALD_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
herald_jar=${HERALD_JAR:-$root/herald-cli/target/herald.jar}
base_jar=${HERALD_BASE_JAR:-}
out=${1:-/tmp/herald-redis-publish-$(date -u +%Y%m%dT%H%M%SZ)}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-10}
PUBLISHERS=${PUBLISHERS:-64}
PUB_THREADS=${PUB_THREADS:-2}
TARGETS=${TARGETS:-"base-redis redis memory redis-min1"}
mkdir -p "$out"
results=$out/results.jsonl
raw=$out/raw.jsonl
log=$out/run.log
node_pid=""
redis_pids=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() {
  for _ in $(seq 1 150); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "server on port $1 did not start" >&2
  return 1
}

cleanup() {
  [[ -n $node_pid ]] && kill "$node_pid" 2>/dev/null || true
  for pid in "${redis_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

start_redis() { # $1 = port, $2.. = more redis-server arguments
  local port=$1
  shift
  mkdir -p "$out/redis-$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$out/redis-$port" \
    "$@" >"$out/redis-$port.log" 2>&1 &
  redis_pids+=("$!")
  wait_port "$port"
}

redis_port=$(free_port)
start_redis "$redis_port"
replica_port=""
if [[ " $TARGETS " == *" redis-min1 "* ]]; then
  replica_port=$(free_port)
  start_redis "$replica_port" --replicaof 127.0.0.1 "$redis_port"
  for _ in $(seq 1 100); do
    redis-cli -p "$redis_port" info replication | grep -q 'state=online' && break
    sleep 0.1
  done
fi

cpu_ticks() { # utime + stime of a process, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}

redis_cpu() { # seconds of CPU the Redis master used so far
  redis-cli -p "$redis_port" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.6f", s}'
}

redis_calls() { # script calls (EVAL, EVALSHA) the Redis master ran so far
  redis-cli -p "$redis_port" info commandstats | tr -d '\r' |
    awk -F'[=:,]' '/^cmdstat_eval(sha)?:/ {s += $3} END {print s + 0}'
}

start_node() { # $1 = target, $2 = key prefix
  local jar_file=$herald_jar store="redis://127.0.0.1:$redis_port" extra=()
  [[ $1 == base-* ]] && jar_file=$base_jar
  [[ $1 == *memory ]] && store=memory
  [[ $1 == redis-min1 ]] && extra=(--redis-min-replicas 1)
  # shellcheck disable=SC2086
  java ${HERALD_JAVA_OPTS--Xmn24m -XX:+UseParallelGC} -jar "$jar_file" serve --port 0 \
    --bind 127.0.0.1 --store "$store" --redis-key-prefix "$2" "${extra[@]}" \
    --max-connections 0 --max-connections-per-ip 0 \
    --max-new-connections-per-second 0 --publish-rate 0 >"$out/node-$1.log" 2>&1 &
  node_pid=$!
  node_port=""
  for _ in $(seq 1 600); do # the banner names the port; a loaded machine may take a while
    node_port=$(grep -o 'listening on http://127.0.0.1:[0-9]*' "$out/node-$1.log" | grep -o '[0-9]*$' || true)
    [[ -n $node_port ]] && return 0
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "node $1 did not start: $(tail -3 "$out/node-$1.log")" >&2
  return 1
}

stop_node() {
  kill "$node_pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$node_pid" 2>/dev/null || true
  node_pid=""
}

for round in $(seq 1 "$ROUNDS"); do
  for target in $TARGETS; do
    if [[ $target == base-* && -z $base_jar ]]; then continue; fi
    prefix="bench-$round-$target:"
    start_node "$target" "$prefix"
    # warm-up, not recorded: JIT-compile the publish path
    timeout 120 java -cp "$jar" dev.herald.bench.load.LoadGenerator publish --target herald \
      --port "$node_port" --publishers 16 --seconds 5 >>"$log" 2>&1 || true
    echo "== $(date -u +%H:%M:%S) round $round $target load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
    # Per-command counts and times of the measured run only (commands scripts call included).
    redis-cli -p "$redis_port" config resetstat >/dev/null
    hub_cpu0=$(cpu_ticks "$node_pid")
    redis_cpu0=$(redis_cpu)
    redis_calls0=$(redis_calls)
    timeout 300 java -Xms512m -Xmx1g -cp "$jar" dev.herald.bench.load.LoadGenerator publish \
      --seconds "$SECS" --publishers "$PUBLISHERS" --publisher-threads "$PUB_THREADS" \
      --target herald --label "$target" --port "$node_port" --pids "$node_pid" --json "$raw" 2>&1 |
      tee -a "$log" | grep -E '^RESULT' || true
    redis-cli -p "$redis_port" info commandstats | tr -d '\r' >"$out/commandstats-$round-$target.txt"
    # CPU per acknowledged publish (hub process, Redis) and Redis commands per publish, over the
    # measured run (with its 3 s ramp-up): far less sensitive to the machine's load than publishes/s.
    python3 - "$raw" "$results" "$(( $(cpu_ticks "$node_pid") - hub_cpu0 ))" "$(getconf CLK_TCK)" \
      "$redis_cpu0" "$(redis_cpu)" "$redis_calls0" "$(redis_calls)" "$target" <<'PY'
import json, sys
raw, results, hub_ticks, hz, r0, r1, c0, c1, target = sys.argv[1:]
r = json.loads(open(raw).read().strip().splitlines()[-1])
total = max(1, r["acked"] + r["failed"])  # every request counted, as the CPU was spent on all
r["label"] = target
r["hubCpuUsPerPublish"] = round(int(hub_ticks) * 1e6 / int(hz) / total, 1)
r["redisCpuUsPerPublish"] = round((float(r1) - float(r0)) * 1e6 / total, 1)
r["redisScriptCallsPerPublish"] = round((int(c1) - int(c0)) / total, 3)
print("CPU", target, "hub us/publish", r["hubCpuUsPerPublish"], "redis us/publish",
      r["redisCpuUsPerPublish"], "script calls/publish", r["redisScriptCallsPerPublish"])
open(results, "a").write(json.dumps(r) + "\n")
PY
    stop_node
  done
done

echo
echo "results: $results"
python3 - "$results" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    runs.setdefault(r["label"], []).append(r)
for label, rs in runs.items():
    acked = [r["ackedPerSec"] for r in rs]
    med = lambda k: statistics.median([r[k] for r in rs])
    print(f"{label:11} acked/s per round {acked} median {statistics.median(acked):.0f} "
          f"failed {sum(r['failed'] for r in rs)}; per publish: hub {med('hubCpuUsPerPublish')} us, "
          f"redis {med('redisCpuUsPerPublish')} us, {med('redisScriptCallsPerPublish')} script calls")
med = {l: statistics.median([r["ackedPerSec"] for r in rs]) for l, rs in runs.items()}
if "redis" in med and "base-redis" in med:
    print(f"redis / base-redis = {med['redis'] / med['base-redis']:.2f}")
if "redis" in med and "memory" in med:
    print(f"redis / memory = {med['redis'] / med['memory']:.2f}")
cpu = {l: statistics.median([r["hubCpuUsPerPublish"] + r["redisCpuUsPerPublish"] for r in rs])
       for l, rs in runs.items()}
if "redis" in cpu and "base-redis" in cpu and cpu["redis"] > 0:
    print(f"CPU (hub + redis) per publish, base-redis / redis = {cpu['base-redis'] / cpu['redis']:.2f}")
if "redis-min1" in med and "redis" in med:
    print(f"redis-min1 / redis = {med['redis-min1'] / med['redis']:.2f}")
PY
