#!/usr/bin/env bash
# The gateway and nginx, each on its defaults in front of its own php-fpm pool of the same configuration
# (4 workers), while 500 clients upload slowly (a 512 KiB Content-Length body, 1 KiB every 250 ms): the
# latency of normal requests (a PHP page, one at a time) with and without the attack, interleaved.
# The attack and the measuring run in processes of their own (slow-uploads.mjs).
# usage: bash bench/gateway/slow-uploads.sh   (after npm run build; needs nginx, php-fpm)
# Everything runs on 127.0.0.1 high ports, in $SCRATCH (default /tmp/fcgi-slow-uploads), stopped by pid.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
SCRATCH=${SCRATCH:-/tmp/fcgi-slow-uploads}
REPS=${REPS:-3}
REQUESTS=${REQUESTS:-300}
UPLOADS=${UPLOADS:-500}
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi,www}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

PHP_A=19761 PHP_B=19762 NGINX_PORT=19763 GW_PORT=19764
php_fpm_conf "$SCRATCH" "a:$PHP_A:4" "b:$PHP_B:4" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(ls /usr/sbin/php-fpm* | head -1)
"$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 & pids+=($!)
cp "$HERE/test/fixtures/php/index.php" "$HERE/test/fixtures/php/post.php" "$SCRATCH/www/"
# nginx's canonical PHP location, every other setting its default (client_max_body_size 1m,
# client_body_buffer_size 16k, no fastcgi_keep_conn)
{ nginx_prelude "$SCRATCH" 4096 1000; cat <<CONF
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096; root $SCRATCH/www;
    location ~ \.php\$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name; fastcgi_pass 127.0.0.1:$PHP_A; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!)
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$GW_PORT --backend 127.0.0.1:$PHP_B --root "$SCRATCH/www" > "$SCRATCH/gateway.log" 2>&1 & GWPID=$!; pids+=($GWPID)
sleep 2
for port in $NGINX_PORT $GW_PORT; do
  curl -sf "http://127.0.0.1:$port/index.php" > /dev/null || { echo "smoke failed on port $port"; exit 1; }
done

measure() { node "$HERE/bench/gateway/slow-uploads.mjs" measure "http://127.0.0.1:$1/index.php" "$REQUESTS"; }
declare -A ROWS
for rep in $(seq "$REPS"); do
  for pair in "nginx $NGINX_PORT" "gateway $GW_PORT"; do
    set -- $pair
    ROWS[$1-quiet]="${ROWS[$1-quiet]:-} $(measure "$2")"
    node "$HERE/bench/gateway/slow-uploads.mjs" attack "$2" "$UPLOADS" > "$SCRATCH/attack.log" 2>&1 & APID=$!
    sleep 2
    ROWS[$1-attack]="${ROWS[$1-attack]:-} $(measure "$2")"
    kill $APID; wait $APID 2>/dev/null || true
    sleep 1
  done
done
echo
for k in nginx-quiet gateway-quiet nginx-attack gateway-attack; do echo "# $k:${ROWS[$k]}"; done
# the median over the reps of each figure
med() { echo "${ROWS[$1]}" | tr ' ' '\n' | grep . | node -e "const r=require('fs').readFileSync(0,'utf8').trim().split('\n').map(JSON.parse).map(o=>o['$2']).sort((a,b)=>a-b); console.log(r[Math.floor(r.length/2)])"; }
echo "| front end | p50 ms quiet | p50 ms under attack | p99 ms under attack | max ms under attack | errors |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for f in nginx gateway; do
  echo "| $f | $(med $f-quiet p50) | $(med $f-attack p50) | $(med $f-attack p99) | $(med $f-attack max) | $(med $f-attack errors) |"
done
n=$(med nginx-attack p50); g=$(med gateway-attack p50)
echo "gateway/nginx p50 under attack: $(awk -v g="$g" -v n="$n" 'BEGIN {printf "%.2fx", g/n}'); gateway peak RSS $(( $(awk '/VmHWM/ {print $2}' /proc/$GWPID/status) / 1024 )) MB"
