#!/usr/bin/env bash
# Reconnect storm (issue 19): SUBS subscribers with Last-Event-ID come back at the same moment after
# their server restarts on the same store, against each target in one run: herald (a SQLite file),
# nchan (its shared-memory store, which a restart empties) and nchan-redis (Nchan with its messages
# in Redis at REDIS_URL, under a key namespace of its own, deleted afterwards); see
# dev.herald.bench.load.Storm.
#   herald-bench/scripts/storm.sh [OUTDIR]
# Env: SUBS (19000), TOPICS (1000), EVENTS (20 per topic before the restart), GAP_EVENTS (20 per
#   topic published while every subscriber is away), LIVE_RATE (500 events/s during the storm),
#   PORT_BASE (18400: targets on +10, +20, ...), TARGETS ("herald nchan nchan-redis"), REDIS_URL (redis://127.0.0.1:6379), SIGNAL (TERM; KILL for a crash), BENCH_JAR, HERALD_JAR,
#   HERALD_JAVA_OPTS, HERALD_FLAGS (see node.sh).
# Needs: benchmarks.jar and herald.jar (see load.sh), nginx + libnginx-mod-nchan (nchan.sh).
# File descriptors: the generator holds SUBS sockets plus ~250 of its own (jars, epoll, pipes), the
# hub SUBS + ~25 + 8 publishers: 19000 fits the 20 000-per-process limit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
out=${1:-/tmp/herald-storm-$(date -u +%Y%m%dT%H%M%SZ)}
SUBS=${SUBS:-19000}
TOPICS=${TOPICS:-1000}
EVENTS=${EVENTS:-20}
GAP_EVENTS=${GAP_EVENTS:-20}
LIVE_RATE=${LIVE_RATE:-500}
TARGETS=${TARGETS:-"herald nchan nchan-redis"}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379}
redis_host=$(sed -E 's#^rediss?://([^@]*@)?([^:/]+).*#\2#' <<<"$REDIS_URL")
redis_port=$(sed -nE 's#^rediss?://([^@]*@)?[^:/]+:([0-9]+).*#\2#p' <<<"$REDIS_URL")
namespace="storm-$(date +%s%N)"
delete_keys() { # Nchan's keys in this run's namespace only
  redis-cli -h "$redis_host" -p "${redis_port:-6379}" --scan --pattern "$namespace*" |
    xargs -r -n 500 redis-cli -h "$redis_host" -p "${redis_port:-6379}" del >/dev/null
}
trap delete_keys EXIT
export NCHAN_NAMESPACE=$namespace
SIGNAL=${SIGNAL:-TERM}
mkdir -p "$out"
results=$out/results.jsonl
port=${PORT_BASE:-18400}
for target in $TARGETS; do
  port=$((port + 10))
  dir=$out/$target
  rm -rf "$dir"
  echo "== $(date -u +%H:%M:%S) $target load:$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/run.log"
  timeout 900 java -Xms1g -Xmx2g -cp "$jar" dev.herald.bench.load.Storm --target "${target%-redis}" \
    --port "$port" --control "$root/herald-bench/scripts/node.sh $target $dir $port" \
    --subs "$SUBS" --topics "$TOPICS" --events "$EVENTS" --gap-events "$GAP_EVENTS" \
    --live-rate "$LIVE_RATE" --signal "$SIGNAL" --label "$target" --json "$results" 2>&1 |
    tee -a "$out/run.log" | grep -E '^(RESULT|.*violation)' || true
done
echo
echo "results: $results"
python3 - "$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    mb = lambda k: round(r.get(k, -1) / 1024) if r.get(k, -1) >= 0 else None
    print(f"storm {r['label']:8} subs={r['subscribers']} allOpen={r.get('allOpenMs')}ms "
          f"(p50/p90/p99 {r.get('openP50Ms')}/{r.get('openP90Ms')}/{r.get('openP99Ms')}ms; "
          f"listen overflows {r.get('tcpListenOverflows')}, SYN cookies {r.get('tcpSyncookiesSent')}) "
          f"allResumed={r.get('allResumedMs')}ms rss idle={mb('rssIdleKb')} peak={mb('rssPeakKb')} "
          f"after={mb('rssAfterKb')} MiB heap peak={mb('heapPeakKb')} live-after={mb('liveHeapAfterKb')} MiB "
          f"shed={r.get('shed')} non200={r.get('non200')} connectFailures={r.get('connectFailures')} "
          f"lost={r.get('lostForGood')} dup={r.get('duplicates')} gaps={r.get('gaps')} "
          f"resets={r.get('resets')} ok={r.get('ok')}")
PY
