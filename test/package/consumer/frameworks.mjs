// The four frameworks' apps (framework-apps.mjs, copied beside this file) served by the installed
// package: run by test/package in the consumer project under Node, Deno and Bun. Prints their ports as
// one JSON line once all listen, then serves until the test stops it.
import * as fcgi from 'fcgi-wasm';
import { startApps } from './framework-apps.mjs';

const apps = await startApps(fcgi);
console.log(JSON.stringify(Object.fromEntries(Object.entries(apps).map(([name, app]) => [name, app.port]))));
