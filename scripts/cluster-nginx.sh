#!/usr/bin/env bash
# Two Herald hub nodes on one Redis behind nginx, all on loopback: publishes and subscribes through
# nginx, kills the node that holds the subscriber's stream, and checks that the subscriber resumes
# through nginx on the other node with Last-Event-ID, losing and repeating nothing. Then stops
# everything it started. A demonstration and smoke check, not part of ./mvnw verify.
#
#   scripts/cluster-nginx.sh
#
# Needs java 17+, curl, python3 (free ports), redis-server and nginx (Debian packages; installed
# with apt-get when missing and running as root). Uses herald-cli/target/herald.jar, building it
# when missing. HERALD_CLASSPATH, if set, replaces the jar (java -cp "$HERALD_CLASSPATH"
# dev.herald.cli.Herald ...), e.g. to try a hub built elsewhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JAR="$ROOT/herald-cli/target/herald.jar"
EVENTS_BEFORE=5
EVENTS_AFTER=5
WORK="$(mktemp -d "${TMPDIR:-/tmp}/herald-cluster.XXXXXX")"
PIDS=()

log() { printf '[cluster-nginx] %s\n' "$*"; }
fail() { log "FAILED: $*"; exit 1; }

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    # Bounded: each process gets 10 s to stop, then it is killed.
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    log "logs kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  [[ $EUID -eq 0 ]] || fail "$1 is missing; install the Debian package $2"
  log "installing $2"
  apt-get install -y -q "$2" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; }
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Polls until a URL answers 200; at most $2 seconds.
await_ok() {
  local url=$1 seconds=$2
  for _ in $(seq $((seconds * 10))); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)" == 200 ]] && return 0
    sleep 0.1
  done
  fail "$url did not answer 200 within ${seconds}s"
}

# The command line of herald.jar: an array, so that "$!" of a background run is java's own pid.
if [[ -n "${HERALD_CLASSPATH:-}" ]]; then
  HERALD=(java -cp "$HERALD_CLASSPATH" dev.herald.cli.Herald)
else
  HERALD=(java -jar "$JAR")
fi

# Prints herald_subscriptions_active of a node (0 if it cannot be read).
streams_on() {
  curl -s "http://127.0.0.1:$1/metrics" | awk '/^herald_subscriptions_active/ {print int($2); found=1} END {if (!found) print 0}'
}

need curl curl
need python3 python3
need redis-server redis-server
need nginx nginx
if [[ -z "${HERALD_CLASSPATH:-}" && ! -f "$JAR" ]]; then
  log "building herald.jar"
  (cd "$ROOT" && ./mvnw -q -B -DskipTests -pl herald-cli -am package)
fi

REDIS_PORT=$(free_port)
NODE_A=$(free_port)
NODE_B=$(free_port)
LB_PORT=$(free_port)
LB="http://127.0.0.1:$LB_PORT"

log "redis-server on $REDIS_PORT (append-only file in $WORK)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly yes --dir "$WORK" \
  >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

declare -A NODE_PID
for port in "$NODE_A" "$NODE_B"; do
  log "hub node on $port, store redis://127.0.0.1:$REDIS_PORT"
  "${HERALD[@]}" serve --port "$port" --store "redis://127.0.0.1:$REDIS_PORT" --heartbeat 5s \
    >"$WORK/node-$port.log" 2>&1 &
  NODE_PID[$port]=$!
  PIDS+=($!)
  disown "$!" # killed on purpose below: no "Killed" notice from the shell
done
await_ok "http://127.0.0.1:$NODE_A/readyz" 60
await_ok "http://127.0.0.1:$NODE_B/readyz" 60

mkdir -p "$WORK/nginx/logs"
NGINX_USER=""
[[ $EUID -eq 0 ]] && NGINX_USER="user root;"
cat >"$WORK/nginx/nginx.conf" <<EOF
$NGINX_USER
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream herald {
    server 127.0.0.1:$NODE_A max_fails=1 fail_timeout=10s;
    server 127.0.0.1:$NODE_B max_fails=1 fail_timeout=10s;
    keepalive 32;
  }
  server {
    listen 127.0.0.1:$LB_PORT;
    location / {
      proxy_pass http://herald;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_cache off;
      proxy_read_timeout 1h;
      proxy_connect_timeout 2s;
    }
  }
}
EOF
log "nginx on $LB_PORT in front of both nodes"
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' >"$WORK/nginx/logs/stdout.log" 2>&1 &
PIDS+=($!)
await_ok "$LB/readyz" 20

TOTAL=$((EVENTS_BEFORE + EVENTS_AFTER))
log "subscribing through nginx (herald listen, reconnects with Last-Event-ID)"
"${HERALD[@]}" listen --max-events "$TOTAL" "$LB/events?topic=demo" >"$WORK/listen.out" 2>"$WORK/listen.err" &
LISTEN_PID=$!
PIDS+=($LISTEN_PID)
HOLDER=""
for _ in $(seq 200); do
  for port in "$NODE_A" "$NODE_B"; do
    [[ "$(streams_on "$port")" -ge 1 ]] && HOLDER=$port
  done
  [[ -n "$HOLDER" ]] && break
  sleep 0.1
done
[[ -n "$HOLDER" ]] || fail "the subscriber's stream did not open"
OTHER=$NODE_A
[[ "$HOLDER" == "$NODE_A" ]] && OTHER=$NODE_B
log "the stream is on node $HOLDER"

IDS=()
publish() {
  local answer
  answer=$(curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
    -d "{\"topic\": \"demo\", \"data\": \"$1\"}" "$LB/events")
  [[ "$(tail -n1 <<<"$answer")" == 201 ]] || fail "publish $1 answered: $answer"
  IDS+=("$(head -n1 <<<"$answer" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')")
}

for i in $(seq 1 "$EVENTS_BEFORE"); do publish "event-$i"; done
for _ in $(seq 200); do [[ $(wc -l <"$WORK/listen.out") -ge $EVENTS_BEFORE ]] && break; sleep 0.1; done
[[ $(wc -l <"$WORK/listen.out") -ge $EVENTS_BEFORE ]] || fail "the subscriber did not get the first events"
log "published $EVENTS_BEFORE events through nginx; the subscriber got them"

log "killing node $HOLDER (kill -9)"
kill -9 "${NODE_PID[$HOLDER]}"
for _ in $(seq 100); do kill -0 "${NODE_PID[$HOLDER]}" 2>/dev/null || break; sleep 0.1; done
! kill -0 "${NODE_PID[$HOLDER]}" 2>/dev/null || fail "node $HOLDER is still running"
curl -s -o /dev/null "http://127.0.0.1:$HOLDER/healthz" && fail "node $HOLDER still answers"
for i in $(seq $((EVENTS_BEFORE + 1)) "$TOTAL"); do publish "event-$i"; done
log "published $EVENTS_AFTER more through nginx (now served by node $OTHER)"

for _ in $(seq 300); do kill -0 "$LISTEN_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$LISTEN_PID" 2>/dev/null; then
  fail "the subscriber did not get all $TOTAL events within 30 s: $(cat "$WORK/listen.out")"
fi
wait "$LISTEN_PID" || fail "herald listen failed: $(cat "$WORK/listen.err")"

GOT=$(python3 -c 'import json, sys; print(" ".join(json.loads(l)["id"] for l in open(sys.argv[1])))' "$WORK/listen.out")
WANT="${IDS[*]}"
[[ "$GOT" == "$WANT" ]] || fail "the subscriber got ids [$GOT], published [$WANT]"
log "OK: the subscriber resumed through nginx on node $OTHER: all $TOTAL events once, in order"
log "ids: $GOT"
