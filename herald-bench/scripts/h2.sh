#!/usr/bin/env bash
# HTTP/2 and TLS next to HTTP/1.1 (issue 20), in one run: memory per idle stream with many streams
# over few HTTP/2 connections against one HTTP/1.1 connection per stream, broadcast deliveries/s
# over each, and TLS's cost per delivery (the hub's CPU per delivery with and without TLS).
#   herald-bench/scripts/h2.sh [OUTDIR]
# Env: SUBS (10000 streams), CONNS (100 HTTP/2 connections), SECS (10 per broadcast),
#   SCENARIOS ("idle broadcast"), TLS_ENGINES ("jdk boringssl": the hub's TLS rows on each engine;
#   boringssl runs the hub with -Dherald.tls.engine=openssl and netty-tcnative-boringssl-static from
#   ~/.m2, which the herald-bench build resolves),
#   BENCH_JAR, HERALD_JAR, HERALD_JAVA_OPTS ("-Xmn24m -XX:+UseParallelGC", as ./herald).
# Needs: ./mvnw -B -DskipTests package (benchmarks.jar, herald.jar) and openssl (a throwaway cert).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jar=${BENCH_JAR:-$root/herald-bench/target/benchmarks.jar}
herald_jar=${HERALD_JAR:-$root/herald-cli/target/herald.jar}
out=${1:-/tmp/herald-h2-$(date -u +%Y%m%dT%H%M%SZ)}
SUBS=${SUBS:-10000}
CONNS=${CONNS:-100}
SECS=${SECS:-10}
SCENARIOS=${SCENARIOS:-"idle broadcast"}
TLS_ENGINES=${TLS_ENGINES:-"jdk boringssl"}
tcnative=$(ls "$HOME"/.m2/repository/io/netty/netty-tcnative-boringssl-static/*/netty-tcnative-boringssl-static-*-linux-x86_64.jar 2>/dev/null | tail -1 || true)
tcnative_classes=$(ls "$HOME"/.m2/repository/io/netty/netty-tcnative-classes/*/netty-tcnative-classes-*.jar 2>/dev/null | tail -1 || true)
java_opts=${HERALD_JAVA_OPTS--Xmn24m -XX:+UseParallelGC}
mkdir -p "$out"
port=18190
pid=""

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=IP:127.0.0.1,DNS:localhost \
  -keyout "$out/key.pem" -out "$out/cert.pem" 2>/dev/null

stop() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=""
  fi
}
trap stop EXIT

start() { # $1 = tls | plain, $2 = jdk | boringssl
  port=$((port + 1))
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done # taken
  local tls=() launch=(-jar "$herald_jar")
  [[ $1 == tls ]] && tls=(--tls-cert "$out/cert.pem" --tls-key "$out/key.pem")
  if [[ ${2:-jdk} == boringssl ]]; then
    [[ -n $tcnative && -n $tcnative_classes ]] || { echo "netty-tcnative not in ~/.m2: build herald-bench first" >&2; return 1; }
    launch=(-Dherald.tls.engine=openssl -cp "$herald_jar:$tcnative:$tcnative_classes" dev.herald.cli.Herald)
  fi
  # shellcheck disable=SC2086
  java $java_opts "${launch[@]}" serve --store memory --bind 127.0.0.1 --port "$port" \
    --heartbeat 0s --max-connections 0 --max-new-connections-per-second 0 --publish-rate 0 \
    --max-streams-per-connection $((SUBS / CONNS)) "${tls[@]}" >"$out/hub-$port.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 150); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  echo "the hub did not start: $out/hub-$port.log" >&2
  return 1
}

run() { # $1 = idle | broadcast, $2 = h1 | h2, $3 = tls | plain, $4 = jdk | boringssl
  start "$3" "${4:-jdk}"
  echo "# $1 $2 $3 ${4:-jdk}" | tee -a "$out/results.txt"
  local tls=false
  [[ $3 == tls ]] && tls=true
  java -cp "$jar" dev.herald.bench.load.Http2Load "$1" --port "$port" --pid "$pid" \
    --protocol "$2" --tls "$tls" --streams "$SUBS" --connections "$CONNS" --seconds "$SECS" \
    | tee -a "$out/results.txt" | grep '^RESULT'
  stop
}

ulimit -n 65536 2>/dev/null || true
echo "# $(date -u +%FT%TZ) SUBS=$SUBS CONNS=$CONNS SECS=$SECS" | tee "$out/results.txt"
if [[ " $SCENARIOS " == *" idle "* ]]; then
  for protocol in h1 h2; do run idle "$protocol" plain; done
fi
if [[ " $SCENARIOS " == *" broadcast "* ]]; then
  for protocol in h1 h2; do run broadcast "$protocol" plain; done
  for engine in $TLS_ENGINES; do
    for protocol in h1 h2; do run broadcast "$protocol" tls "$engine"; done
  done
fi
echo "results: $out/results.txt"
