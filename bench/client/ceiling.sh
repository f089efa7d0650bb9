#!/usr/bin/env bash
# How fast can anything drive php-fpm on this machine, and so how far can the client bar (our client
# >= 4x npm fastcgi-client to php-fpm) be reached here? In one run, interleaved, each against its own
# identical php-fpm pool (16 static children, the peers' index.php, hello route):
#   nginx      nginx (1 worker, fastcgi_keep_conn, 16 kept connections) under wrk -t1 -c16: a C client,
#              with wrk's HTTP load on top
#   node-floor bench/client/floor-adapter.cjs: the least a Node program can do per request
#   fcgi-wasm  our Client (bench/client/peers-adapter.cjs)
#   fastcgi-client  npm fastcgi-client, the bar's reference
# The three Node clients run the peers harness's client-bench.js (20,000 requests, concurrency 16).
# Prints each one's req/s per rep, the medians, and each median over fastcgi-client's.
# usage: bash bench/client/ceiling.sh   (after npm run build and one run-peers.sh, whose scratch
#        directory holds the peers' node_modules: $PEERS_SCRATCH, default /tmp/fcgi-peers; needs wrk)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
SHARED=$(cd "${SHARED:-$HERE/../shared}" && pwd)
PEERS_SCRATCH=${PEERS_SCRATCH:-/tmp/fcgi-peers}
SCRATCH=${SCRATCH:-/tmp/fcgi-client-ceiling}
REPS=${REPS:-3}
N=${N:-20000}
[ -d "$PEERS_SCRATCH/node_modules/fastcgi-client" ] || { echo "no $PEERS_SCRATCH/node_modules/fastcgi-client: run ../shared/peers/run-peers.sh once first"; exit 1; }
export NODE_PATH=$PEERS_SCRATCH/node_modules
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

NGINX_PHP=19961 DIRECT_PHP=19962 NGINX_PORT=19963
SCRIPT=$SHARED/peers/apps/php/index.php
php_fpm_conf "$SCRATCH" "nginx:$NGINX_PHP:16:1024" "direct:$DIRECT_PHP:16:1024" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(command -v php-fpm8.2 || ls /usr/sbin/php-fpm* | head -1)
"$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 -d default_charset= & pids+=($!)
{ nginx_prelude "$SCRATCH" 4096 100000; cat <<CONF
  upstream php { server 127.0.0.1:$NGINX_PHP; keepalive 16; }
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location / { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $SCRIPT; fastcgi_pass php; fastcgi_keep_conn on; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!)
sleep 1.5
[ "$(curl -s "http://127.0.0.1:$NGINX_PORT/client/hello")" = "hello" ] || { echo "smoke failed: nginx -> php-fpm"; exit 1; }

declare -A ADAPTERS=([node-floor]="$HERE/bench/client/floor-adapter.cjs" [fcgi-wasm]="$HERE/bench/client/peers-adapter.cjs" [fastcgi-client]="$SHARED/peers/client/adapters/fastcgi-client.js")
declare -A RPS
wrk -t1 -c16 -d3s "http://127.0.0.1:$NGINX_PORT/client/hello" > /dev/null # warm-up (the clients warm up themselves)
for rep in $(seq "$REPS"); do
  RPS[nginx]="${RPS[nginx]:-} $(wrk -t1 -c16 -d4s "http://127.0.0.1:$NGINX_PORT/client/hello" | awk '/Requests\/sec/ {printf "%d", $2}')"
  for client in node-floor fcgi-wasm fastcgi-client; do
    line=$(node "$SHARED/peers/client/client-bench.js" "${ADAPTERS[$client]}" "127.0.0.1:$DIRECT_PHP" --route hello --n "$N" --c 16 --reps 1 --script "$SCRIPT" | tail -1)
    RPS[$client]="${RPS[$client]:-} $(node -p 'const r = JSON.parse(process.argv[1]); if (r.errors) throw new Error(r.firstErr); r.rps' "$line")"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
base=$(echo "${RPS[fastcgi-client]}" | median)
echo "| client of php-fpm | req/s per rep | median | / fastcgi-client |"
echo "| --- | --- | ---: | ---: |"
for k in nginx node-floor fcgi-wasm fastcgi-client; do
  m=$(echo "${RPS[$k]}" | median)
  echo "| $k | ${RPS[$k]# } | $m | $(awk -v m="$m" -v b="$base" 'BEGIN {printf "%.2fx", m/b}') |"
done
