#!/usr/bin/env bash
# `fcgi bench` (FastCGI straight to the app) next to wrk through nginx (HTTP -> nginx -> FastCGI -> the
# same app), at the same concurrency, for fcgi2's C hello app (../shared/peers/apps/c/hello.c, 16 pre-forked workers), php-fpm (16
# children) and our own app (bench/app/hello-app.mjs), keep-alive on every hop. It prints req/s for both
# and their ratio, then checks the C app: `fcgi bench` must agree with wrk within 20% (exit 1 if not).
# For the C app it also prints the CPU each request cost the app, wrk, nginx's worker and fcgi bench
# (from /proc and bash's `times`): the generators share the app's 2 cores, so what the load side costs
# is taken from the app, and wrk + nginx cost about twice what fcgi bench does.
# usage: bash bench/cli/run.sh   (after npm run build; needs nginx, php-fpm, libfcgi-dev, wrk)
# Knobs: DURATION (3s), CONNS (16), REPS (5, interleaved; medians are reported, and the ratio is the
# median of each rep's back-to-back ratio, which drifting background load disturbs least), PIN, SCRATCH.
# Everything runs on 127.0.0.1 high ports in $SCRATCH and is stopped by pid.
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
. "$HERE/bench/lib/conf.sh"
SHARED=${SHARED:-$HERE/../shared}
SCRATCH=${SCRATCH:-/tmp/fcgi-cli-bench}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-16}
REPS=${REPS:-5}
FCGI="node $HERE/dist/cli/main.js"
# PIN=1: the apps on CPU 0, the load generators (wrk and nginx, or fcgi bench) on CPU 1, so that the
# generators do not take the app's CPU and each side has the same budget in both measurements
PIN=${PIN:-0}
APP_CPU=""; GEN_CPU=""
if [ "$PIN" = 1 ]; then APP_CPU="taskset -c 0"; GEN_CPU="taskset -c 1"; fi
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi,www}; chmod -R 777 "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# process-per-connection apps get one copy for nginx and one for fcgi bench: nginx's idle keep-alive
# connections hold a worker each, so a shared pool would leave no worker for the other client
C_PORT=19811 PHP_PORT=19812 OURS_PORT=19813 NGINX_PORT=19814 C2_PORT=19815 PHP2_PORT=19816
# the peers benchmark's fcgi2 hello app, as bench/gateway uses it: `c-hello ADDR N` pre-forks N workers
cc -O2 -o "$SCRATCH/c-hello" "$SHARED/peers/apps/c/hello.c" -lfcgi
$APP_CPU "$SCRATCH/c-hello" 127.0.0.1:$C_PORT 16 2>"$SCRATCH/c.log" & pids+=($!); C_PID=$!
$APP_CPU "$SCRATCH/c-hello" 127.0.0.1:$C2_PORT 16 2>"$SCRATCH/c2.log" & pids+=($!); C2_PID=$!
cat > "$SCRATCH/www/hello.php" <<'PHP'
<?php
header('Content-Type: text/plain');
echo "hello\n";
PHP
php_fpm_conf "$SCRATCH" "bench:$PHP_PORT:16:1024" "bench2:$PHP2_PORT:16:1024" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(ls /usr/sbin/php-fpm* | head -1)
$APP_CPU "$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 -d default_charset= & pids+=($!)
$APP_CPU node "$HERE/bench/app/hello-app.mjs" $OURS_PORT > "$SCRATCH/ours.log" 2>&1 & pids+=($!)
{ nginx_prelude "$SCRATCH" 4096 1000000; cat <<CONF
  include /etc/nginx/fastcgi_params;
  fastcgi_param SCRIPT_FILENAME $SCRATCH/www/hello.php;
  upstream c { server 127.0.0.1:$C_PORT; keepalive $CONNS; }
  upstream php { server 127.0.0.1:$PHP_PORT; keepalive $CONNS; }
  upstream ours { server 127.0.0.1:$OURS_PORT; keepalive $CONNS; }
  server { listen 127.0.0.1:$NGINX_PORT backlog=4096;
    location /c/ { fastcgi_pass c; fastcgi_keep_conn on; }
    location /php/ { fastcgi_pass php; fastcgi_keep_conn on; }
    location /ours/ { fastcgi_pass ours; fastcgi_keep_conn on; } }
}
CONF
} > "$SCRATCH/nginx.conf"
$GEN_CPU nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & pids+=($!); NGINX_PID=$!
sleep 1.5
for app in c php ours; do
  [ "$(curl -s "http://127.0.0.1:$NGINX_PORT/$app/hello")" = "hello" ] || { echo "smoke failed: nginx -> $app"; exit 1; }
done
declare -A ADDR=([c]=127.0.0.1:$C2_PORT [php]=127.0.0.1:$PHP2_PORT [ours]=127.0.0.1:$OURS_PORT)
for app in c php ours; do
  $FCGI request --connect "${ADDR[$app]}" --script "$SCRATCH/www/hello.php" --body-only /$app/hello | grep -qx hello || { echo "smoke failed: fcgi request -> $app"; exit 1; }
done

declare -A RPS
# CPU time (clock ticks, user + system) of processes and their children, from /proc
ticks() { local t=0 p; for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo "$t"; }
HZ=$(getconf CLK_TCK)
us_per() { awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN {printf "%.1f", (n > 0 ? t * 1e6 / hz / n : 0)}'; }
# for the C app, the CPU each request cost the app (the same work either way) and the front end (nginx's
# worker, or fcgi bench): which one sets the pace
declare -A CPU
# the shell's children's CPU seconds (user + system) into CHILD_CPU, from bash's `times` (run in this
# shell, not a subshell, which would count only its own children)
children_cpu() { times > "$SCRATCH/times"; CHILD_CPU=$(tail -1 "$SCRATCH/times" | awk '{ for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); t += p[1] * 60 + p[2] } } END { printf "%.3f", t }'); }
wrk_rps() {
  local a0 n0 w0 out; a0=$(ticks "$C_PID"); n0=$(ticks "$NGINX_PID"); children_cpu; w0=$CHILD_CPU
  $GEN_CPU wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$NGINX_PORT/$1/hello" > "$SCRATCH/wrk.out"
  out=$(cat "$SCRATCH/wrk.out")
  local n; n=$(echo "$out" | awk '/requests in/ {print $1}')
  if [ "$1" = c ]; then
    CPU[app-wrk]+=" $(us_per $(( $(ticks "$C_PID") - a0 )) "$n")"; CPU[nginx]+=" $(us_per $(( $(ticks "$NGINX_PID") - n0 )) "$n")"
    children_cpu
    CPU[wrk]+=" $(awk -v a="$w0" -v b="$CHILD_CPU" -v n="$n" 'BEGIN {printf "%.1f", (b - a) * 1e6 / n}')"
  fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}
bench_rps() {
  local a0; a0=$(ticks "$C2_PID")
  $GEN_CPU $FCGI bench "${ADDR[$1]}" -c "$CONNS" -d "$DURATION" --path "/$1/hello" --script "$SCRATCH/www/hello.php" --json > "$SCRATCH/bench-$1.json"
  local a1; a1=$(ticks "$C2_PID")
  node -e 'const r = require(process.argv[1]); if (r.errorCount) { console.error("errors", r.errors); process.exit(1); }' "$SCRATCH/bench-$1.json"
  local n; n=$(node -p 'require(process.argv[1]).completed' "$SCRATCH/bench-$1.json")
  if [ "$1" = c ]; then
    CPU[app-bench]+=" $(us_per $((a1 - a0)) "$n")"
    CPU[bench]+=" $(node -p 'const r = require(process.argv[1]); (r.generatorCpuPercent / 100 * r.elapsedMs * 1000 / r.completed).toFixed(1)' "$SCRATCH/bench-$1.json")"
  fi
  node -p 'require(process.argv[1]).requestsPerSec' "$SCRATCH/bench-$1.json"
}
# one unrecorded second of each, for the JIT, opcache and the pools
for app in c php ours; do wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$NGINX_PORT/$app/hello" > /dev/null; done
for rep in $(seq "$REPS"); do
  for app in c php ours; do
    wrk_rps $app > "$SCRATCH/w"; bench_rps $app > "$SCRATCH/b"; w=$(cat "$SCRATCH/w"); b=$(cat "$SCRATCH/b")
    [ -n "$w" ] && [ "${w%.*}" -gt 0 ] || { echo "wrk measured nothing for $app"; exit 1; }
    RPS[wrk-$app]="${RPS[wrk-$app]:-} $w"
    RPS[bench-$app]="${RPS[bench-$app]:-} $b"
    RPS[ratio-$app]="${RPS[ratio-$app]:-} $(awk -v b="$b" -v w="$w" 'BEGIN {printf "%.4f", b/w}')"
  done
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "figures from $(nproc) cores shared with other work; -c $CONNS, $DURATION x $REPS interleaved, medians$([ "$PIN" = 1 ] && echo '; apps pinned to CPU 0, generators to CPU 1')"
echo
echo "| app | wrk -> nginx -> app req/s | fcgi bench -> app req/s | bench/wrk (median of reps) | per rep |"
echo "| --- | ---: | ---: | ---: | --- |"
status=0
for app in c php ours; do
  w=$(echo "${RPS[wrk-$app]}" | median); b=$(echo "${RPS[bench-$app]}" | median)
  name=$([ $app = c ] && echo 'fcgi2 C app (16 workers)' || ([ $app = php ] && echo 'php-fpm (16 children)' || echo 'ours (hello-app.mjs)'))
  r=$(echo "${RPS[ratio-$app]}" | median)
  echo "| $name | $w | $b | $(printf '%.2fx' "$r") | $(echo ${RPS[ratio-$app]} | awk '{for (i = 1; i <= NF; i++) printf "%.2f ", $i}') |"
done
echo
aw=$(echo "${CPU[app-wrk]}" | median); ab=$(echo "${CPU[app-bench]}" | median); ng=$(echo "${CPU[nginx]}" | median); wk=$(echo "${CPU[wrk]}" | median); fb=$(echo "${CPU[bench]}" | median)
echo "fcgi2 C app, CPU per request (medians): the app ${aw} us behind nginx, ${ab} us under fcgi bench; the load"
echo "  side: wrk ${wk} + nginx's worker ${ng} = $(awk -v a="$wk" -v b="$ng" 'BEGIN {printf "%.1f", a + b}') us, fcgi bench ${fb} us; all in, a request costs"
echo "  $(awk -v a="$aw" -v b="$wk" -v c="$ng" 'BEGIN {printf "%.1f", a + b + c}') us through nginx and $(awk -v a="$ab" -v b="$fb" 'BEGIN {printf "%.1f", a + b}') us under fcgi bench."
r=$(echo "${RPS[ratio-c]}" | median)
if awk -v r="$r" 'BEGIN {exit !(r >= 0.8 && r <= 1.2)}'; then
  echo; echo "agreement (fcgi2 C app): fcgi bench / wrk through nginx = $(printf '%.2f' "$r"): within 20%: PASS"
else
  echo; echo "agreement (fcgi2 C app): fcgi bench / wrk through nginx = $(printf '%.2f' "$r"): NOT within 20%: FAIL"; status=1
fi
exit $status
