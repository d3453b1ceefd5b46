#!/usr/bin/env bash
# Starts and stops one server node for the resume benchmarks (storm.sh, soak.sh): the control
# command their generator calls (dev.herald.bench.load.Nodes).
#   node.sh TARGET DIR PORT_BASE start I            node I on PORT_BASE+I; prints its pids
#   node.sh TARGET DIR PORT_BASE stop I PIDS SIGNAL  kill -SIGNAL, waits until the pids are gone
# TARGET: herald (store: $STORE, default sqlite:DIR/events.db; the same store on every restart)
#   or nchan (nginx + Nchan as scripts/nchan.sh configures it, one worker; memory store), or
#   nchan-redis (the same with its messages in Redis at REDIS_URL, key namespace NCHAN_NAMESPACE).
# Env: REDIS_URL, NCHAN_NAMESPACE, HERALD_JAR, HERALD_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC"), STORE, REDIS_KEY_PREFIX,
#   HERALD_FLAGS (limits; default: none, so the storm is admitted whatever the hub's defaults).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
target=$1 dir=$2 base=$3 cmd=$4 i=$5
port=$((base + i))
herald_jar=${HERALD_JAR:-$root/herald-cli/target/herald.jar}
mkdir -p "$dir"

wait_port() {
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  return 1
}

alive() { # a zombie (exited, not yet reaped by whoever adopted it) counts as gone
  [[ -e /proc/$1 ]] && [[ $(awk '/^State:/{print $2}' "/proc/$1/status" 2>/dev/null) != Z ]]
}

if [[ $cmd == start ]]; then
  # Someone else's server on the port would pass wait_port below and mix two runs' events.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use" >&2
    exit 1
  fi
  case $target in
    herald)
      store=${STORE:-sqlite:$dir/events.db}
      extra=()
      [[ -n ${REDIS_KEY_PREFIX:-} ]] && extra=(--redis-key-prefix "$REDIS_KEY_PREFIX")
      # shellcheck disable=SC2086
      java ${HERALD_JAVA_OPTS--Xmn24m -XX:+UseParallelGC} -jar "$herald_jar" serve --port "$port" \
        --bind 127.0.0.1 --store "$store" "${extra[@]}" \
        ${HERALD_FLAGS---max-connections 0 --max-connections-per-ip 0 --max-new-connections-per-second 0 --publish-rate 0} \
        >>"$dir/node-$i.log" 2>&1 </dev/null &
      pid=$!
      wait_port "$port"
      echo "$pid"
      ;;
    nchan | nchan-redis)
      if [[ $target == nchan-redis ]]; then
        export NCHAN_REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379} NCHAN_REDIS_NAMESPACE=${NCHAN_NAMESPACE:-nchan-bench}
      fi
      master=$("$root/herald-bench/scripts/nchan.sh" start "$port" "$dir/nchan-$i" 1 </dev/null)
      wait_port "$port"
      echo "$master,$(pgrep -P "$master" | paste -sd,)"
      ;;
  esac
  exit 0
fi

# stop
pids=$6 signal=$7
if [[ $target == nchan* && $signal == TERM ]]; then
  "$root/herald-bench/scripts/nchan.sh" stop "$dir/nchan-$i"
else
  for pid in ${pids//,/ }; do kill "-$signal" "$pid" 2>/dev/null || true; done
fi
for pid in ${pids//,/ }; do
  for _ in $(seq 1 600); do
    alive "$pid" || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
done
