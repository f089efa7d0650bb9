// The inspector page, BUILT (vite, build/web/index.html), in Debian's headless Chromium: opened from
// file:// and from a 127.0.0.1 static server; a capture picked and dropped, the request list, a request's
// params and findings, pasted hex, the composer's bytes against src/codec's Encoder, the keyboard, and
// the decoding on the page's thread when no Worker can be made.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { build } from 'vite';
import type { Browser, Page } from 'playwright-core';
import { Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';
import { launchChromium, serveStatic, watchProblems, type StaticServer } from '../browser.js';
import { concat, pcapOf, request, response } from './capture.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const e = new Encoder();

const HELLO: [string, string][] = [
  ['REQUEST_METHOD', 'GET'], ['SCRIPT_NAME', '/hello.php'], ['REQUEST_URI', '/hello.php?who=page'], ['QUERY_STRING', 'who=page'], ['SERVER_PORT', '80'],
];
/** Request 2 is sent the way some servers get wrong: its second pair runs across two PARAMS records. */
function splitPairRequest(id: number): Uint8Array {
  const body = e.pairsBody([['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/split.php'], ['SCRIPT_NAME', '/split.php']]);
  const cut = 18 + 6; // inside REQUEST_URI's name
  return concat([
    e.beginRequest(id, Role.RESPONDER, Flags.KEEP_CONN),
    e.record(RecordType.PARAMS, id, body.subarray(0, cut)),
    e.record(RecordType.PARAMS, id, body.subarray(cut)),
    e.record(RecordType.PARAMS, id),
    ...e.stream(RecordType.STDIN, id, new Uint8Array(0), true),
  ]);
}
const CAPTURE = pcapOf([
  [request(e, 1, HELLO), response(e, 1, 'Status: 200 OK\r\nContent-Type: text/plain\r\n\r\nhello, page')],
  [splitPairRequest(2), response(e, 2, 'Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such page')],
  // id 1 again, as nginx reuses it on a keep-alive connection
  [request(e, 1, [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/third']]), response(e, 1, 'Content-Type: text/html\r\n\r\n<p>third</p>')],
]);

let browser: Browser;
let server: StaticServer;
let fileUrl: string;

beforeAll(async () => {
  // the page under test is the one `npm run build:web` makes
  await build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'error' });
  fileUrl = pathToFileURL(join(ROOT, 'build/web/index.html')).href;
  server = await serveStatic(join(ROOT, 'build/web'), [/^index\.html$/]);
  browser = await launchChromium();
}, 60_000);

const opened: Page[] = [];
afterEach(async () => {
  for (const page of opened.splice(0)) await page.close().catch(() => undefined);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

async function openPage(url: string, init?: () => void): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  opened.push(page);
  const problems = watchProblems(page);
  if (init) await page.addInitScript(init);
  await page.goto(url);
  return { page, problems };
}

/** Waits for the decoding to end, and fails with the page's own status line if it ended in an error. */
async function decoded(page: Page): Promise<void> {
  await page.waitForSelector('body[data-state=done], body[data-state=error]', { state: 'attached', timeout: 20_000 });
  expect(await page.getAttribute('body', 'data-state'), (await page.textContent('#status')) ?? '').toBe('done');
}

async function pick(page: Page, bytes: Uint8Array, name = 'tiny.pcap'): Promise<void> {
  await page.setInputFiles('#file', { name, mimeType: 'application/vnd.tcpdump.pcap', buffer: Buffer.from(bytes) });
  await decoded(page);
}

/** Drops a file on the drop zone the way a browser does: a drop event carrying a DataTransfer. */
async function dropFile(page: Page, bytes: Uint8Array, name: string): Promise<void> {
  const transfer = await page.evaluateHandle(([data, fileName]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], fileName));
    return dt;
  }, [Array.from(bytes), name] as const);
  await page.dispatchEvent('#drop', 'dragover', { dataTransfer: transfer });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
  await decoded(page);
}

const rowTexts = (page: Page): Promise<string[]> => page.$$eval('#requests [role=option]', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent).join(' | ')));
const params = (page: Page): Promise<string[][]> =>
  page.$$eval('#detail-body table:first-of-type tbody tr', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent ?? '')));

async function checkCapture(page: Page): Promise<void> {
  const rows = await rowTexts(page);
  expect(rows).toHaveLength(3);
  expect(rows[0]).toMatch(/\| 1 \| GET \| \/hello\.php\?who=page \| 200 \|/);
  expect(rows[1]).toMatch(/\| 2 \| POST \| \/split\.php \| 404 \|/);
  expect(rows[2]).toMatch(/\| 1 \| GET \| \/third \| 200 \|/); // no Status header: CGI's implied 200
  // the finding is marked on its row, in the findings panel and, once opened, in the request and its records
  expect(await page.getAttribute('#requests [role=option]:nth-child(2)', 'class')).toMatch(/\bfinding\b/);
  expect(await page.getAttribute('#requests [role=option]:nth-child(1)', 'class')).not.toMatch(/\bfinding\b/);
  expect(await page.textContent('#findings')).toContain('PAIR_SPLIT');

  await page.click('#requests [role=option]:nth-child(1)');
  await page.waitForSelector('#detail-body table.records');
  expect(await params(page)).toEqual(HELLO);
  expect(await page.textContent('#detail-body')).toContain('hello, page');
  // its own records only (BEGIN, PARAMS x2, STDIN, STDOUT x2, END), not those of the later request with id 1
  const types = await page.$$eval('#detail-body table.records tbody tr', (rows) => rows.map((r) => `${r.children[1]!.textContent} ${r.children[2]!.textContent}`));
  expect(types).toEqual(['to-app BEGIN_REQUEST', 'to-app PARAMS', 'to-app PARAMS', 'to-app STDIN', 'from-app STDOUT', 'from-app STDOUT', 'from-app END_REQUEST']);

  await page.click('#requests [role=option]:nth-child(2)');
  await page.waitForSelector('#detail-body .finding-list');
  expect(await params(page)).toEqual([['REQUEST_METHOD', 'POST'], ['REQUEST_URI', '/split.php'], ['SCRIPT_NAME', '/split.php']]);
  expect(await page.textContent('#detail-body .finding-list li')).toMatch(/^PAIR_SPLIT at offset \d+ \(to-app\)/);
  await page.waitForSelector('#detail-body table.records');
  // the PARAMS record the pair starts in is marked with the finding
  const marked = await page.$$eval('#detail-body table.records tr.finding', (rows) => rows.map((r) => Array.from(r.children, (c) => c.textContent)));
  expect(marked.length).toBeGreaterThan(0);
  expect(marked[0]![2]).toBe('PARAMS');

  // the timeline: one lane, three bars from the capture's timestamps; the last bar ends at the right edge
  expect(await page.textContent('#timeline-note')).toMatch(/^3 requests on 1 connection over /);
  const box = (await page.locator('#timeline').boundingBox())!;
  await page.mouse.click(box.x + box.width - 10, box.y + 22 + 8);
  expect(await page.textContent('#detail-title')).toMatch(/^Request 1 /);
  await expect.poll(() => page.textContent('#detail-body')).toContain('<p>third</p>');
}

describe('the inspector page', () => {
  it('opens from file:// and decodes a picked capture', async () => {
    const { page, problems } = await openPage(fileUrl);
    await pick(page, CAPTURE);
    expect(await page.getAttribute('body', 'data-mode')).toBe('worker');
    await checkCapture(page);
    expect(await page.textContent('#status')).toMatch(/3 requests/);
    expect(problems).toEqual([]);
  });

  it('opens from a static server and decodes a dropped capture', async () => {
    const { page, problems } = await openPage(`${server.base}/index.html`);
    await dropFile(page, CAPTURE, 'dropped.pcap');
    expect(await page.getAttribute('body', 'data-mode')).toBe('worker');
    await checkCapture(page);
    expect(await page.textContent('#status')).toContain('dropped.pcap');
    expect(problems).toEqual([]);
  });

  it('decodes on the page thread when no Worker can be made', async () => {
    const { page, problems } = await openPage(fileUrl, () => {
      (globalThis as { Worker: unknown }).Worker = class {
        constructor() {
          throw new Error('workers are disabled here');
        }
      };
    });
    await pick(page, CAPTURE);
    expect(await page.getAttribute('body', 'data-mode')).toBe('main-thread');
    await checkCapture(page);
    expect(await page.textContent('#status')).toMatch(/on the page thread/);
    expect(problems).toEqual([]);
  });

  it('decodes pasted hex (both sides of a Wireshark hex dump) and moves through requests with the keyboard', async () => {
    const { page, problems } = await openPage(fileUrl);
    // Wireshark's "Follow TCP Stream" hex: the app's side indented; each side with its own offsets
    const dump = (bytes: Uint8Array, indent: string): string =>
      Array.from({ length: Math.ceil(bytes.length / 16) }, (_, i) =>
        `${indent}${(i * 16).toString(16).padStart(8, '0')}  ${Array.from(bytes.subarray(i * 16, i * 16 + 16), (b) => b.toString(16).padStart(2, '0')).join(' ')}`,
      ).join('\n');
    const toApp = concat([request(e, 5, [['REQUEST_METHOD', 'PUT'], ['REQUEST_URI', '/a']]), request(e, 6, [['REQUEST_METHOD', 'DELETE'], ['REQUEST_URI', '/b']])]);
    const fromApp = concat([response(e, 5, 'Status: 201 Created\r\n\r\n'), response(e, 6, 'Status: 204 No Content\r\n\r\n')]);
    const text = `${dump(toApp, '')}\n${dump(fromApp, '    ')}`;
    await page.fill('#hex', text);
    await page.click('#hex-form button[type=submit]');
    await decoded(page);
    const rows = await rowTexts(page);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/\| 5 \| PUT \| \/a \| 201 \|/);
    expect(rows[1]).toMatch(/\| 6 \| DELETE \| \/b \| 204 \|/);

    await page.focus('#requests');
    await page.keyboard.press('ArrowDown');
    expect(await page.textContent('#detail-title')).toMatch(/^Request 5 /);
    await expect.poll(() => params(page)).toEqual([['REQUEST_METHOD', 'PUT'], ['REQUEST_URI', '/a']]);
    await page.keyboard.press('ArrowDown');
    expect(await page.textContent('#detail-title')).toMatch(/^Request 6 /);
    expect(await page.getAttribute('#requests', 'aria-activedescendant')).toBe(await page.getAttribute('#requests [role=option]:nth-child(2)', 'id'));
    expect(await page.getAttribute('#requests [role=option]:nth-child(2)', 'aria-selected')).toBe('true');
    // the detail comes from the decoder (a worker) a moment after the selection
    await expect.poll(() => params(page)).toEqual([['REQUEST_METHOD', 'DELETE'], ['REQUEST_URI', '/b']]);
    await page.keyboard.press('Home');
    expect(await page.textContent('#detail-title')).toMatch(/^Request 5 /);
    await expect.poll(() => params(page)).toEqual([['REQUEST_METHOD', 'PUT'], ['REQUEST_URI', '/a']]);
    expect(problems).toEqual([]);
  });

  it('shows a long list in batches, more on request, and keeps the keyboard past the first batch', async () => {
    const { page, problems } = await openPage(fileUrl);
    const many = Array.from({ length: 250 }, (_, i): [Uint8Array, Uint8Array] => [
      request(e, 1, [['REQUEST_METHOD', 'GET'], ['REQUEST_URI', `/n/${i}`]]),
      response(e, 1, `Status: 200 OK\r\n\r\n${i}`),
    ]);
    await pick(page, pcapOf(many), 'many.pcap');
    expect(await page.locator('#requests [role=option]').count()).toBe(200);
    expect(await page.textContent('#shown')).toBe('Showing 200 of 250 requests.');
    await page.click('#show-more');
    expect(await page.locator('#requests [role=option]').count()).toBe(250);
    expect(await page.textContent('#shown')).toBe('250 requests.');
    expect(await page.isHidden('#show-more')).toBe(true);
    await page.focus('#requests');
    await page.keyboard.press('End');
    await expect.poll(() => params(page)).toEqual([['REQUEST_METHOD', 'GET'], ['REQUEST_URI', '/n/249']]);
    expect(problems).toEqual([]);
  });

  it('composes a request: the same bytes as the Encoder, and the matching fcgi request command', async () => {
    const { page, problems } = await openPage(`${server.base}/index.html`);
    const form = '#composer';
    await page.fill(`${form} [name=address]`, '127.0.0.1:9001');
    await page.fill(`${form} [name=method]`, 'POST');
    await page.fill(`${form} [name=path]`, '/form.php?step=2');
    await page.selectOption(`${form} [name=role]`, String(Role.AUTHORIZER));
    await page.fill(`${form} [name=requestId]`, '7');
    await page.check(`${form} [name=keepConn]`);
    await page.fill(`${form} [name=extra]`, 'HTTP_HOST=example.test\nX_NOTE=two words');
    await page.fill(`${form} [name=body]`, 'a=1&b=2');
    const hex = (await page.textContent(`${form} [data-out=hex]`)) ?? '';
    const shown = Uint8Array.from(hex.trim().split(/\s+/), (h) => parseInt(h, 16));
    const body = new TextEncoder().encode('a=1&b=2');
    const expected = concat([
      e.beginRequest(7, Role.AUTHORIZER, Flags.KEEP_CONN),
      e.pairs(7, [
        ['REQUEST_METHOD', 'POST'], ['SCRIPT_NAME', '/form.php'], ['QUERY_STRING', 'step=2'], ['REQUEST_URI', '/form.php?step=2'],
        ['CONTENT_LENGTH', '7'], ['HTTP_HOST', 'example.test'], ['X_NOTE', 'two words'],
      ]),
      ...e.stream(RecordType.STDIN, 7, body, true),
    ]);
    expect(shown).toEqual(expected);
    expect(await page.textContent(`${form} [data-out=command]`)).toBe(
      "fcgi request --connect 127.0.0.1:9001 --method POST --role authorizer --param HTTP_HOST=example.test --param 'X_NOTE=two words' --data @body.txt '/form.php?step=2'",
    );
    expect(problems).toEqual([]);
  });
});
