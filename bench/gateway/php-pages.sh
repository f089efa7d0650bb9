#!/usr/bin/env bash
# A real PHP page of several packets (~60 KB, written by php-fpm in output_buffering's 4 KiB pieces, as
# Debian's php.ini has it) and a hello page, through the gateway and through nginx, each on its default
# settings, in front of ONE php-fpm pool of 4 workers (php-fpm gives a worker to each connection, so how
# a front end holds its connections decides what the pool's other clients get):
#   serial    one request at a time, median and p99 latency (200 requests)
#   load      wrk -t1 -c8: requests/s
#   neighbour single requests through nginx to the same pool while each front end carries wrk -c8
# usage: bash bench/gateway/php-pages.sh   (after npm run build; needs nginx, php-fpm, wrk)
# Everything runs on 127.0.0.1 high ports, in $SCRATCH (default /tmp/fcgi-php-pages), stopped by pid.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
SCRATCH=${SCRATCH:-/tmp/fcgi-php-pages}
REPS=${REPS:-3}
DURATION=${DURATION:-5s}
GATEWAY_ARGS=${GATEWAY_ARGS:-}
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi,www}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

PHP_PORT=19781 NGINX_PORT=19782 GW_PORT=19783
php_fpm_conf "$SCRATCH" "pool:$PHP_PORT:4:1024" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(ls /usr/sbin/php-fpm* | head -1)
"$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 -d output_buffering=4096 & pids+=($!)
cat > "$SCRATCH/www/page.php" <<'PHP'
<?php
// a page of ~60 KB built in pieces, as a CMS builds one: php-fpm sends it in output_buffering's pieces
header('Content-Type: text/html; charset=utf-8');
echo "<!doctype html><html><head><title>page</title></head><body>\n";
for ($i = 0; $i < 600; $i++) echo '<p class="row">', str_repeat('lorem ipsum ', 8), $i, "</p>\n";
echo "</body></html>\n";
PHP
echo '<?php echo "hello\n";' > "$SCRATCH/www/hello.php"
{ nginx_prelude "$SCRATCH" 4096 1000; cat <<CONF
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096; root $SCRATCH/www;
    location ~ \.php\$ { include /etc/nginx/fastcgi_params; fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name; fastcgi_pass 127.0.0.1:$PHP_PORT; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!)
# shellcheck disable=SC2086
node "$HERE/dist/cli/main.js" proxy --listen 127.0.0.1:$GW_PORT --backend 127.0.0.1:$PHP_PORT --root "$SCRATCH/www" $GATEWAY_ARGS > "$SCRATCH/gateway.log" 2>&1 & pids+=($!)
sleep 2
for port in $NGINX_PORT $GW_PORT; do
  [ "$(curl -s "http://127.0.0.1:$port/page.php" | wc -c)" -gt 50000 ] || { echo "smoke failed on port $port"; exit 1; }
done
MEASURE="$HERE/bench/gateway/slow-uploads.mjs"
declare -A R
add() { R[$1]="${R[$1]:-} $2"; }
for url in page hello; do for port in $NGINX_PORT $GW_PORT; do wrk -t1 -c8 -d2s "http://127.0.0.1:$port/$url.php" > /dev/null; done; done # warm-up
for rep in $(seq "$REPS"); do
  for pair in "nginx $NGINX_PORT" "gateway $GW_PORT"; do
    set -- $pair
    add "$1-serial" "$(node "$MEASURE" measure "http://127.0.0.1:$2/page.php" 200)"
    add "$1-page-rps" "$(wrk -t1 -c8 -d"$DURATION" "http://127.0.0.1:$2/page.php" | awk '/Requests\/sec/ {print $2}')"
    add "$1-hello-rps" "$(wrk -t1 -c8 -d"$DURATION" "http://127.0.0.1:$2/hello.php" | awk '/Requests\/sec/ {print $2}')"
    wrk -t1 -c8 -d"$DURATION" "http://127.0.0.1:$2/page.php" > /dev/null & WRK=$!
    sleep 1
    add "$1-neighbour" "$(node "$MEASURE" measure "http://127.0.0.1:$NGINX_PORT/hello.php" 20)"
    wait $WRK || true
  done
done
echo
for k in "${!R[@]}"; do echo "# $k:${R[$k]}"; done | sort
# the median over the reps: of a number, or of field $2 of a JSON report
medf() { echo "${R[$1]}" | tr ' ' '\n' | grep . | FIELD="${2:-}" node -e "const f=process.env.FIELD; const r=require('fs').readFileSync(0,'utf8').trim().split('\n').map(l=>f?JSON.parse(l)[f]:Number(l)).sort((a,b)=>a-b); console.log(r[Math.floor(r.length/2)])"; }
echo "| front end | page p50 ms | page p99 ms | page req/s (wrk -c8) | hello req/s | neighbour p50 ms (its load) |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for f in nginx gateway; do
  echo "| $f | $(medf $f-serial p50) | $(medf $f-serial p99) | $(medf $f-page-rps) | $(medf $f-hello-rps) | $(medf $f-neighbour p50) |"
done
