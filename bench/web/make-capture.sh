#!/usr/bin/env bash
# A capture of real loopback FastCGI traffic for bench/web: nginx -> our app (bench/app/hello-app.mjs,
# keep-alive connections), driven by wrk, recorded by tcpdump on the app's port until the file reaches
# TARGET_MB (default 100) or LIMIT seconds pass. It begins with one request sent straight to the app with a
# pair split across PARAMS records (bench/web/split-pair-request.mjs), which the inspector reports.
# usage: bash bench/web/make-capture.sh OUT.pcap   (after npm run build; needs nginx, tcpdump, wrk)
# prints the app's port (the one to give tshark's -d tcp.port==PORT,fcgi) on stdout.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
OUT=${1:?usage: make-capture.sh OUT.pcap}
TARGET_MB=${TARGET_MB:-100}
LIMIT=${LIMIT:-120}
SCRATCH=$(mktemp -d /tmp/fcgi-web-capture.XXXXXX)
mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$SCRATCH"; }
trap cleanup EXIT
port() { node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
APP_PORT=$(port); NGINX_PORT=$(port)
node "$HERE/bench/app/hello-app.mjs" "$APP_PORT" >"$SCRATCH/app.log" 2>&1 & pids+=($!)
{ nginx_prelude "$SCRATCH" 1024 100000; cat <<CONF
  include /etc/nginx/fastcgi_params;
  upstream app { server 127.0.0.1:$APP_PORT; keepalive 8; }
  server { listen 127.0.0.1:$NGINX_PORT; location / { fastcgi_pass app; fastcgi_keep_conn on; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!)
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$NGINX_PORT/hello" >/dev/null && break; sleep 0.1; done
tcpdump -i lo -s 0 -U -w "$OUT" "tcp port $APP_PORT" 2>"$SCRATCH/tcpdump.log" & TCPDUMP=$!; pids+=($TCPDUMP)
sleep 1
# one request with a pair split across PARAMS records (a finding), then small requests, plus BIG responses of 64 KiB (records split across TCP segments)
node "$HERE/bench/web/split-pair-request.mjs" "$APP_PORT"
for _ in $(seq "${BIG:-150}"); do curl -s "http://127.0.0.1:$NGINX_PORT/big" >/dev/null; done
wrk -t1 -c"${CONNECTIONS:-8}" -d"${LIMIT}s" "http://127.0.0.1:$NGINX_PORT/hello?q=inspector" >/dev/null 2>&1 & WRK1=$!; pids+=($WRK1)
end=$((SECONDS + LIMIT))
target=$(awk "BEGIN { print int($TARGET_MB * 1000000) }")
while [ $SECONDS -lt $end ] && [ "$(stat -c %s "$OUT" 2>/dev/null || echo 0)" -lt "$target" ]; do sleep 0.1; done
kill "$WRK1" 2>/dev/null || true
sleep 0.5
kill -INT "$TCPDUMP"; wait "$TCPDUMP" 2>/dev/null || true
echo "$APP_PORT"
