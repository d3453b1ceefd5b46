#!/usr/bin/env bash
# Nchan (nginx + libnginx-mod-nchan) on loopback, for the hub load tests (docs/performance.md,
# "Hub load tests (issue 5)").
#   nchan.sh start [PORT] [DIR] [WORKERS]   installs the packages if missing, writes DIR/nginx.conf,
#                                 starts nginx with WORKERS worker processes (1, or auto: one per core)
#   nchan.sh stop [DIR]           stops it
# Prints the master pid on start. DIR defaults to /tmp/herald-nchan.
# Workers: 1 by default (one process, as the hub runs one JVM; no hand-off between workers). `auto`
# is nginx's packaged default (one worker per core): a publish that reaches a worker other than the
# one holding the subscriber crosses to it through Nchan's shared memory and an IPC pipe.
# Message buffering matches the hub's default retention: 1000 messages per channel, 24 h; and
# keep-alive pings every 15 s, like the hub's default heartbeat.
# worker_connections counts more than sockets (Nchan takes connection slots of its own: with 20 000,
# 19 000 subscribers on 1000 channels already got "worker_connections are not enough" and closed
# idle keep-alive publishers), so it is set far above the 20 000 file descriptors.
# Env NCHAN_REDIS_URL (+ NCHAN_REDIS_NAMESPACE): keep messages in Redis instead of shared memory,
# so they outlive a restart (the reconnect storm's nchan-redis target).
set -euo pipefail
cmd=${1:-start}
if [[ $cmd == stop ]]; then
  dir=${2:-/tmp/herald-nchan}
  if [[ -f $dir/nginx.pid ]]; then
    nginx -p "$dir" -c "$dir/nginx.conf" -s stop || true
  fi
  exit 0
fi
port=${2:-8090}
dir=${3:-/tmp/herald-nchan}
workers=${4:-1}
if [[ ! -f /usr/lib/nginx/modules/ngx_nchan_module.so ]]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-nchan >/dev/null
fi
mkdir -p "$dir/tmp"
cat >"$dir/nginx.conf" <<CONF
load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
user root;
daemon on;
worker_processes $workers;
worker_rlimit_nofile 20000;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
  worker_connections 65536;
  use epoll;
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  keepalive_requests 1000000;
  nchan_max_reserved_memory 1024M; # 10 000 channels x 1000 buffered messages
$(if [[ -n ${NCHAN_REDIS_URL:-} ]]; then
  echo "  nchan_redis_url \"$NCHAN_REDIS_URL\";"
  echo "  nchan_redis_namespace \"${NCHAN_REDIS_NAMESPACE:-nchan}\";"
  echo "  nchan_use_redis on;"
fi)
  server {
    listen 127.0.0.1:$port backlog=4096;
    location = /pub {
      nchan_publisher;
      nchan_channel_id \$arg_id;
      nchan_message_buffer_length 1000;
      nchan_message_timeout 24h;
    }
    location = /sub {
      nchan_subscriber eventsource;
      nchan_channel_id \$arg_id;
      nchan_subscriber_first_message newest;
      nchan_eventsource_ping_interval 15; # like the hub's default heartbeat (--heartbeat 15s)
    }
  }
}
CONF
nginx -p "$dir" -c "$dir/nginx.conf"
for _ in $(seq 1 50); do
  [[ -s $dir/nginx.pid ]] && break
  sleep 0.1
done
cat "$dir/nginx.pid"
