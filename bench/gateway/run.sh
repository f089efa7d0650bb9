#!/usr/bin/env bash
# The gateway against nginx, each in front of its own copy of the same FastCGI backends (keep-alive
# connections hold process-per-connection workers, so two front ends must not share one pool), under wrk
# (-t1 -c16, keep-alive on both sides, after a warm-up of each): fcgi2's C hello app (16 workers) and php-fpm (16 children, the
# peers' index.php); then a 1 GiB upload streamed through the gateway to php-fpm, with its peak RSS.
# usage: bash bench/gateway/run.sh   (after npm run build; needs nginx, php-fpm, libfcgi-dev, wrk)
# Everything runs on 127.0.0.1 high ports, in $SCRATCH (default /tmp/fcgi-gateway-bench), and is stopped by pid.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
SHARED=${SHARED:-$HERE/../shared}
SCRATCH=${SCRATCH:-/tmp/fcgi-gateway-bench}
DURATION=${DURATION:-5s}
REPS=${REPS:-3}
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

C_PORT=19711 PHP_PORT=19712 NGINX_PORT=19713 GW_C=19714 GW_PHP=19715 UP_PORT=19716 C2_PORT=19717 PHP2_PORT=19718 C3_PORT=19719 GW_C2=19720
cc -O2 -o "$SCRATCH/c-hello" "$SHARED/peers/apps/c/hello.c" -lfcgi
"$SCRATCH/c-hello" 127.0.0.1:$C_PORT 16 & pids+=($!)
"$SCRATCH/c-hello" 127.0.0.1:$C2_PORT 16 & pids+=($!)
"$SCRATCH/c-hello" 127.0.0.1:$C3_PORT 16 & pids+=($!)
php_fpm_conf "$SCRATCH" "bench:$PHP_PORT:16:1024" "bench2:$PHP2_PORT:16:1024" "upload:$UP_PORT:2" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(ls /usr/sbin/php-fpm* | head -1)
"$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 -d default_charset= -d enable_post_data_reading=0 & pids+=($!)
mkdir -p "$SCRATCH/www"; cp "$SHARED/peers/apps/php/index.php" "$SCRATCH/www/index.php"
cat > "$SCRATCH/www/upload.php" <<'PHP'
<?php
$in = fopen('php://input', 'rb'); $n = 0; $h = hash_init('md5');
while (!feof($in)) { $b = fread($in, 1 << 16); $n += strlen($b); hash_update($h, $b); }
echo $n, ' ', hash_final($h);
PHP
{ nginx_prelude "$SCRATCH" 4096 100000; cat <<CONF
  fastcgi_buffers 16 16k; fastcgi_max_temp_file_size 0;
  include /etc/nginx/fastcgi_params;
  upstream c { server 127.0.0.1:$C_PORT; keepalive 16; }
  upstream php { server 127.0.0.1:$PHP_PORT; keepalive 16; }
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location /c/ { fastcgi_pass c; fastcgi_keep_conn on; }
    location /php/ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME $SCRATCH/www/index.php; fastcgi_pass php; fastcgi_keep_conn on; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!)
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$GW_C --backend 127.0.0.1:$C2_PORT --pass-all > "$SCRATCH/gw-c.log" 2>&1 & pids+=($!)
# the same gateway in two processes (--workers 2, as nginx's worker_processes 2; nginx here runs 1)
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$GW_C2 --backend 127.0.0.1:$C3_PORT --pass-all --workers 2 > "$SCRATCH/gw-c2.log" 2>&1 & pids+=($!)
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$GW_PHP --backend 127.0.0.1:$PHP2_PORT --root "$SCRATCH/www" --front-controller /index.php > "$SCRATCH/gw-php.log" 2>&1 & pids+=($!)
sleep 2
for url in "http://127.0.0.1:$NGINX_PORT/c/hello" "http://127.0.0.1:$GW_C/c/hello" "http://127.0.0.1:$GW_C2/c/hello" "http://127.0.0.1:$NGINX_PORT/php/hello" "http://127.0.0.1:$GW_PHP/php/hello"; do
  [ "$(curl -s "$url")" = "hello" ] || { echo "smoke failed: $url"; exit 1; }
done

declare -A RPS
run() { wrk -t1 -c16 -d"$DURATION" "$2" | awk '/Requests\/sec/ {print $2}'; }
# warm-up, as the peers harness does: a Node front end runs its first ~2 s of load at 2/3 of its steady pace
# (measured: 8.9k, then 13.5-14.3k req/s in 2 s steps; V8 compiling the hot path); nginx needs none
for url in "http://127.0.0.1:$NGINX_PORT/c/hello" "http://127.0.0.1:$GW_C/c/hello" "http://127.0.0.1:$GW_C2/c/hello" "http://127.0.0.1:$NGINX_PORT/php/hello" "http://127.0.0.1:$GW_PHP/php/hello"; do
  wrk -t1 -c16 -d"${WARMUP:-5s}" "$url" > /dev/null
done
for rep in $(seq "$REPS"); do
  for pair in "nginx-c http://127.0.0.1:$NGINX_PORT/c/hello" "gateway-c http://127.0.0.1:$GW_C/c/hello" "gateway2-c http://127.0.0.1:$GW_C2/c/hello" "nginx-php http://127.0.0.1:$NGINX_PORT/php/hello" "gateway-php http://127.0.0.1:$GW_PHP/php/hello"; do
    set -- $pair
    RPS[$1]="${RPS[$1]:-} $(run "$1" "$2")"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
for k in "${!RPS[@]}"; do echo "# $k req/s per rep:${RPS[$k]}"; done
echo "| backend | nginx req/s | gateway req/s | gateway/nginx |"
echo "| --- | ---: | ---: | ---: |"
for b in c php; do
  n=$(echo "${RPS[nginx-$b]}" | median); g=$(echo "${RPS[gateway-$b]}" | median)
  echo "| $([ $b = c ] && echo 'fcgi2 C app' || echo 'php-fpm') | $n | $g | $(awk -v g="$g" -v n="$n" 'BEGIN {printf "%.2fx", g/n}') |"
done
n=$(echo "${RPS[nginx-c]}" | median); g=$(echo "${RPS[gateway2-c]}" | median)
echo "| fcgi2 C app, gateway --workers 2 | $n | $g | $(awk -v g="$g" -v n="$n" 'BEGIN {printf "%.2fx", g/n}') |"

# 1 GiB upload through a gateway to php-fpm, streamed (the gateway's peak RSS is the figure)
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$((GW_PHP + 10)) --backend 127.0.0.1:$UP_PORT --root "$SCRATCH/www" > "$SCRATCH/gw-up.log" 2>&1 & GWPID=$!; pids+=($GWPID)
sleep 1
START=$(date +%s.%N)
head -c 1073741824 /dev/zero > "$SCRATCH/1g.bin"
OUT=$(curl -s -X POST -T "$SCRATCH/1g.bin" -H 'Content-Type: application/octet-stream' "http://127.0.0.1:$((GW_PHP + 10))/upload.php" || echo "curl failed")
rm -f "$SCRATCH/1g.bin"
END=$(date +%s.%N)
PEAK=$(awk '/VmHWM/ {print $2}' /proc/$GWPID/status)
echo
echo "1 GiB upload through the gateway to php-fpm: php read '$OUT' in $(awk -v a="$START" -v b="$END" 'BEGIN {printf "%.1f", b-a}') s; gateway peak RSS $((PEAK / 1024)) MB"
