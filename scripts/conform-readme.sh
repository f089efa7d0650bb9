#!/usr/bin/env bash
# Regenerates the README's conformance tables: builds, runs the conform tests against the peers they
# start (our server, php-fpm, fcgi2's C app, Perl FCGI, Go's net/http/fcgi, and nginx in front of
# `fcgi conform --listen`) with FCGI_CONFORM_SAVE set so that each report is kept, then rewrites the
# README between its conform-table markers.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build >/dev/null
dir=build/conform
rm -rf "$dir"
mkdir -p "$dir"
FCGI_CONFORM_SAVE="$dir" npx vitest run test/cli/conform.test.ts test/cli/conform-peers.test.ts test/cli/conform-listen.test.ts
node scripts/conform-readme.mjs "$dir" README.md
