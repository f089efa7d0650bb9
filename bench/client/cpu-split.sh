#!/usr/bin/env bash
# Where the CPU goes when a client drives php-fpm (or the fcgi2 C app) on this machine: the app's CPU
# per request and each client's, from /proc (utime + stime) around one client-bench run of the peers
# harness (the same adapters, params and pools as run-peers.sh's client phase). On 2 cores, a client
# can never pass 2 s of CPU / (app + client CPU per request) requests/s; with a client that cost
# nothing, 2 s / (the app's CPU per request) - the ceiling printed for each target.
# usage: bash bench/client/cpu-split.sh   (after npm run build and one run-peers.sh, whose scratch
#        directory holds the peers' node_modules: $PEERS_SCRATCH, default /tmp/fcgi-peers)
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=$(cd "${SHARED:-$HERE/../shared}" && pwd)
PEERS_SCRATCH=${PEERS_SCRATCH:-/tmp/fcgi-peers}
SCRATCH=${SCRATCH:-/tmp/fcgi-client-cpu}
N=${N:-20000}
[ -d "$PEERS_SCRATCH/node_modules/fastcgi-client" ] || { echo "no $PEERS_SCRATCH/node_modules/fastcgi-client: run ../shared/peers/run-peers.sh once first"; exit 1; }
export NODE_PATH=$PEERS_SCRATCH/node_modules
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

PHP_PORT=19941 C_PORT=19942
sed -e "s#@RUN@#$SCRATCH#g; s#@LOG@#$SCRATCH#g; s#@PHP_P2_PORT@#19943#g; s#@PHP_P16_PORT@#$PHP_PORT#g" "$SHARED/peers/conf/php-fpm.conf.in" > "$SCRATCH/php-fpm.conf"
PHPFPM=$(command -v php-fpm8.2 || ls /usr/sbin/php-fpm* | head -1)
"$PHPFPM" -F -R -y "$SCRATCH/php-fpm.conf" -p "$SCRATCH" -d expose_php=0 -d default_charset= & pids+=($!)
cc -O2 -o "$SCRATCH/c-hello" "$SHARED/peers/apps/c/hello.c" -lfcgi
"$SCRATCH/c-hello" 127.0.0.1:$C_PORT 16 > /dev/null & pids+=($!)
sleep 1

# CPU ticks (1/100 s) of every process whose command line matches $1
ticks() { local s=0 p; for p in $(pgrep -f "$1"); do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $s; }
declare -A ADAPTERS=([fcgi-wasm]="$HERE/bench/client/peers-adapter.cjs" [fastcgi-client]="$SHARED/peers/client/adapters/fastcgi-client.js")
echo "| target | client | req/s | app CPU us/req | client CPU us/req | 2 cores / (app + client) | 2 cores / app alone |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
for target in "php-fpm 127.0.0.1:$PHP_PORT php-fpm: pool p16" "fcgi2-C 127.0.0.1:$C_PORT c-hello 127.0.0.1:$C_PORT"; do
  read -r name addr pattern <<<"$target"
  for client in fcgi-wasm fastcgi-client; do
    a0=$(ticks "$pattern")
    line=$( /usr/bin/time -f "%U %S" -o "$SCRATCH/time" node "$SHARED/peers/client/client-bench.js" "${ADAPTERS[$client]}" "$addr" \
      --route hello --n "$N" --c 16 --reps 1 --script "$SHARED/peers/apps/php/index.php" | tail -1)
    a1=$(ticks "$pattern")
    rps=$(node -p 'const r = JSON.parse(process.argv[1]); r.errors ? "errors: " + r.errors + " (" + r.firstErr + ")" : r.rps' "$line")
    # the client's whole process (its 200 warm-up requests and node's start included: a slight overcount)
    read -r cu cs < "$SCRATCH/time"
    awk -v name="$name" -v client="$client" -v rps="$rps" -v app=$((a1 - a0)) -v cu="$cu" -v cs="$cs" -v n="$N" 'BEGIN {
      appus = app * 10000 / n; cl = (cu + cs) * 1e6 / n
      printf "| %s | %s | %s | %.0f | %.0f | %.0f | %.0f |\n", name, client, rps, appus, cl, 2e6 / (appus + cl), 2e6 / appus }'
  done
done
