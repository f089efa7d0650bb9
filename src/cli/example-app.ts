// The app `fcgi proxy` serves when no backend is named: a small FastCGI application that shows what
// the gateway sent it, so a first run proves the whole path (HTTP -> gateway -> FastCGI -> app).

import type { FetchHandler } from '../server/fetch.js';

const page = (title: string, body: string) => `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em auto;max-width:52em;padding:0 1em}table{border-collapse:collapse}
td{border-bottom:1px solid #ddd;padding:2px 8px;font-family:ui-monospace,monospace;font-size:13px;vertical-align:top}</style></head>
<body>${body}</body></html>`;

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

export const exampleApp: FetchHandler = async (request, info) => {
  const url = new URL(request.url);
  if (request.method === 'POST') {
    const text = await request.text();
    return new Response(page('posted', `<h1>POST received</h1><p>${text.length} characters:</p><pre>${escape(text.slice(0, 2000))}</pre><p><a href="/">back</a></p>`), {
      headers: { 'Content-Type': 'text/html; charset=utf-8' },
    });
  }
  if (url.pathname === '/health') return new Response('ok\n', { headers: { 'Content-Type': 'text/plain' } });
  const rows = info.params.toArray().map(([n, v]) => `<tr><td>${escape(n)}</td><td>${escape(v)}</td></tr>`).join('');
  return new Response(
    page(
      'fcgi-wasm',
      `<h1>Hello from a FastCGI app</h1>
<p>This page came through the fcgi-wasm gateway, over FastCGI (request id ${info.requestId}), from an app served by fcgi-wasm,
both sides framed by the same WebAssembly codec.</p>
<form method="post"><input name="say" value="hello"> <button>POST it</button></form>
<h2>The CGI params the gateway sent</h2><table>${rows}</table>`,
    ),
    { headers: { 'Content-Type': 'text/html; charset=utf-8' } },
  );
};
