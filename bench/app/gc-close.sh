#!/usr/bin/env bash
# What a new connection per request costs the app's young-generation collections: nginx without
# fastcgi_keep_conn in front of bench/app/hello-app.mjs run with `node --trace-gc-nvp`, wrk -t1 -c16.
# Prints per rep: requests/s, p99, and per request the bytes allocated and the bytes that survived a
# scavenge (copied or promoted), which is what makes those pauses long and so the p99.
# usage: bash bench/app/gc-close.sh   (after npm run build; REPS=3 D=5s APP_STYLE=fetch for serve())
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=$(cd "${SHARED:-$HERE/../shared}" && pwd)
. "$HERE/bench/lib/conf.sh"
SCRATCH=${SCRATCH:-/tmp/fcgi-gc-close}
APP_PORT=19731 HTTP_PORT=19732
rm -rf "$SCRATCH"; mkdir -p "$SCRATCH"/{client_body,proxy,fastcgi,uwsgi,scgi}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

env ${APPENV:-} node --trace-gc-nvp "$HERE/bench/app/hello-app.mjs" $APP_PORT > "$SCRATCH/app.log" 2>&1 & APP_PID=$!; pids+=($APP_PID)
{ nginx_prelude "$SCRATCH" 4096 100000; cat <<CONF
  include /etc/nginx/fastcgi_params;
  server { listen 127.0.0.1:$HTTP_PORT backlog=4096; location / { fastcgi_pass 127.0.0.1:$APP_PORT; } }
}
CONF
} > "$SCRATCH/nginx.conf"
nginx -p "$SCRATCH" -c "$SCRATCH/nginx.conf" -e "$SCRATCH/nginx-error.log" & NGINX_PID=$!; pids+=($NGINX_PID)
sleep 1.5
for p in $APP_PID $NGINX_PID; do kill -0 "$p" 2>/dev/null || { echo "gc-close: a process did not start (ports $APP_PORT, $HTTP_PORT taken?); see $SCRATCH"; exit 1; }; done
curl -fsS "http://127.0.0.1:$HTTP_PORT/hello" > /dev/null || { echo "gc-close: no answer through nginx; see $SCRATCH"; exit 1; }
wrk -t1 -c16 -d3s "http://127.0.0.1:$HTTP_PORT/hello" > /dev/null   # warm-up, not recorded

for rep in $(seq "${REPS:-3}"); do
  from=$(wc -l < "$SCRATCH/app.log")
  wrk -t1 -c16 -d"${D:-5s}" -s "$SHARED/peers/lib/wrk-report.lua" "http://127.0.0.1:$HTTP_PORT/hello" | tail -1 > "$SCRATCH/wrk.json"
  tail -n +$((from + 1)) "$SCRATCH/app.log" | grep -a 'gc=s' > "$SCRATCH/scavenges" || true
  node -e '
    const fs = require("fs");
    const wrk = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    const field = (line, name) => Number((line.match(new RegExp(" " + name + "=([0-9.]+)")) || [0, 0])[1]);
    let allocated = 0, survived = 0; const pauses = [];
    for (const line of fs.readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean)) {
      allocated += field(line, "allocated");
      survived += field(line, "promoted") + field(line, "new_space_survived");
      pauses.push(field(line, "pause"));
    }
    pauses.sort((a, b) => a - b);
    const n = wrk.requests;
    const errors = Object.keys(wrk).filter((k) => k.startsWith("err") && wrk[k] > 0);
    if (n === 0 || errors.length > 0) { console.log(`gc-close: ${n} requests, errors: ${errors.map((k) => k + "=" + wrk[k]).join(" ")}`); process.exit(1); }
    console.log(`${Math.round(n * 1e6 / wrk.duration_us)} req/s, p99 ${(wrk.lat_p99_us / 1000).toFixed(2)} ms; per request ${(allocated / n / 1024).toFixed(1)} KB allocated, ${(survived / n / 1024).toFixed(2)} KB survived; ${pauses.length} scavenges, median pause ${pauses[pauses.length >> 1] ?? 0} ms`);
  ' "$SCRATCH/wrk.json" "$SCRATCH/scavenges"
done
