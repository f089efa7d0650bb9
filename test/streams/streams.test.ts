// RecordDecoderStream / RecordEncoderStream: round trips, pairs attached to their records, errors,
// and backpressure (a reader that does not read stops the writer).

import { describe, expect, it } from 'vitest';
import { Encoder, FastCGIProtocolError, RecordType, Role } from '../../src/codec/index.js';
import { RecordDecoderStream, RecordEncoderStream, type DecodedRecord } from '../../src/streams/index.js';
import { concat } from '../codec/bytes.js';

const enc = new Encoder();

function chunked(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let o = 0;
  return new ReadableStream({
    pull(controller) {
      if (o >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(o, o + size));
      o += size;
    },
  });
}

async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of stream as unknown as AsyncIterable<T>) out.push(x);
  return out;
}

describe('streams', () => {
  it('decodes a request preamble with pairs attached to their PARAMS record', async () => {
    const bytes = concat([
      enc.beginRequest(1, Role.RESPONDER, 1),
      enc.pairs(1, { SCRIPT_FILENAME: '/srv/index.php', HTTP_COOKIE: 'c'.repeat(300) }),
      ...enc.stream(RecordType.STDIN, 1, new Uint8Array(0), true),
    ]);
    const records = await readAll(chunked(bytes, 3).pipeThrough(new RecordDecoderStream()));
    expect(records.map((r) => [r.type, r.requestId, r.content.length])).toEqual([
      [1, 1, 8], [4, 1, 347], [4, 1, 0], [5, 1, 0],
    ]);
    expect(records[1]!.pairs!.get('SCRIPT_FILENAME')).toBe('/srv/index.php');
    expect(records[1]!.pairs!.get('HTTP_COOKIE')).toHaveLength(300);
  });

  it('round-trips a 300 KB body through the encoder and decoder streams', async () => {
    const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13) & 255);
    const source = new ReadableStream({
      start(c) {
        c.enqueue({ type: RecordType.STDIN, requestId: 4, content: body });
        c.enqueue({ type: RecordType.STDIN, requestId: 4 });
        c.close();
      },
    });
    const records = await readAll(source.pipeThrough(new RecordEncoderStream()).pipeThrough(new RecordDecoderStream()));
    expect(records.every((r) => r.content.length <= 65535)).toBe(true);
    expect(concat(records.map((r) => r.content))).toEqual(body);
    expect(records[records.length - 1]!.content.length).toBe(0);
  });

  it('errors the readable side with the typed protocol error', async () => {
    const bad = Uint8Array.from([1, 1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]); // BEGIN on id 0
    const reading = readAll(chunked(bad, 5).pipeThrough(new RecordDecoderStream()));
    await expect(reading).rejects.toBeInstanceOf(FastCGIProtocolError);
    await expect(reading).rejects.toMatchObject({ code: 'BEGIN_ON_NULL_ID', offset: 0 });
  });

  it('errors at the end of a truncated stream', async () => {
    const cut = enc.record(RecordType.STDOUT, 1, new Uint8Array(9)).subarray(0, 12);
    await expect(readAll(chunked(cut, 4).pipeThrough(new RecordDecoderStream()))).rejects.toMatchObject({ code: 'TRUNCATED_CONTENT', offset: 12 });
  });

  it('applies backpressure: an unread decoder stops accepting bytes', async () => {
    const decoder = new RecordDecoderStream({ readableHighWaterMark: 4, writableHighWaterMark: 64 });
    const writer = decoder.writable.getWriter();
    const record = enc.record(RecordType.STDOUT, 1, new Uint8Array(56)); // 64 bytes
    let accepted = 0;
    for (let i = 0; i < 50; i++) {
      const ready = await Promise.race([writer.ready.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);
      if (!ready) break;
      void writer.write(record);
      accepted++;
    }
    expect(accepted).toBeLessThan(50);
    // reading drains it, and everything written arrives
    const reader = decoder.readable.getReader();
    const got: DecodedRecord[] = [];
    const drained = (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        got.push(value);
      }
    })();
    await writer.close();
    await drained;
    expect(got).toHaveLength(accepted);
  });
});
