#!/usr/bin/env bash
# Compressed soak (issue 19): SOAK_SECS of publishes, random reconnects, slow readers and node
# restarts with exact invariants checked on every event and node 0's memory sampled; exits 1 on a
# violation, a subscriber that never catches up, or memory growth; see dev.herald.bench.load.Soak.
#   herald-bench/scripts/soak.sh [OUTDIR]
# Env: SOAK_SECS (1800), STORE (redis: two nodes on REDIS_URL with their own key prefix, node 1
#   restarted; sqlite: one node on a SQLite file, restarted), REDIS_URL (redis://127.0.0.1:6379),
#   SUBS (2000), TOPICS (200), RATE (200 events/s), DROPS (5 cut streams/s), SLOW (0.05 of the
#   subscribers read slowly), RESTART_EVERY (120 s), SAMPLE_EVERY (10 s), MAX_HEAP_GROWTH_MB (16),
#   MAX_RSS_GROWTH_MB (128), PORT_BASE (18500; two soaks at once need two), BENCH_JAR, HERALD_JAR, HERALD_JAVA_OPTS, HERALD_FLAGS (see node.sh).
# The keys of the run (prefix soak-<time>:) are deleted afterwards; nothing else on Redis is touched.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
out=${1:-/tmp/herald-soak-$(date -u +%Y%m%dT%H%M%SZ)}
STORE=${STORE:-redis}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
base=${PORT_BASE:-18500} # node i listens on base+i
mkdir -p "$out"
if [[ $STORE == redis ]]; then
  prefix="soak-$(date +%s%N):"
  redis_host=$(sed -E 's#^rediss?://([^@]*@)?([^:/]+).*#\2#' <<<"$REDIS_URL")
  redis_port=$(sed -nE 's#^rediss?://([^@]*@)?[^:/]+:([0-9]+).*#\2#p' <<<"$REDIS_URL")
  delete_keys() {
    redis-cli -h "$redis_host" -p "${redis_port:-6379}" --scan --pattern "{$prefix}*" |
      xargs -r -n 500 redis-cli -h "$redis_host" -p "${redis_port:-6379}" del >/dev/null
  }
  trap delete_keys EXIT
  export STORE=$REDIS_URL REDIS_KEY_PREFIX=$prefix
  ports="$base,$((base + 1))"
else
  export STORE=sqlite:$out/herald/events.db
  ports=$base
fi
echo "== $(date -u +%H:%M:%S) soak $STORE ${SOAK_SECS:-1800}s load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/run.log"
set +e
java -Xms512m -Xmx1g -cp "$jar" dev.herald.bench.load.Soak --target herald --ports "$ports" \
  --control "$root/herald-bench/scripts/node.sh herald $out/herald $base" \
  --seconds "${SOAK_SECS:-1800}" --subs "${SUBS:-2000}" --topics "${TOPICS:-200}" \
  --rate "${RATE:-200}" --drops-per-second "${DROPS:-5}" --slow-fraction "${SLOW:-0.05}" \
  --restart-every "${RESTART_EVERY:-120}" --sample-every "${SAMPLE_EVERY:-10}" \
  --max-heap-growth-mb "${MAX_HEAP_GROWTH_MB:-16}" --max-rss-growth-mb "${MAX_RSS_GROWTH_MB:-128}" \
  --label "soak-${STORE%%:*}" --json "$out/results.jsonl" 2>&1 | tee -a "$out/run.log"
code=${PIPESTATUS[0]}
echo "soak exit $code; log $out/run.log, results $out/results.jsonl"
exit "$code"
