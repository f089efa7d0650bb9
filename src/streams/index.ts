// WHATWG stream adapters over Decoder and Encoder: the portable stream API (Node, Deno, Bun, browsers).
// Backpressure is the TransformStream's own: a transform runs only when the readable side has room
// (its highWaterMark, in records or bytes), so a slow reader stops the writer.

import { Decoder, type DecoderOptions } from '../codec/decoder.js';
import { Encoder } from '../codec/encoder.js';
import { RecordType, VERSION_1 } from '../codec/constants.js';
import type { PairList } from '../codec/pairs.js';

/** A decoded record; `pairs` is set for PARAMS, GET_VALUES and GET_VALUES_RESULT records. */
export interface DecodedRecord {
  version: number;
  type: number;
  requestId: number;
  content: Uint8Array;
  paddingLength: number;
  pairs?: PairList;
}

export interface RecordDecoderStreamOptions extends DecoderOptions {
  /** Records buffered on the readable side before the writable side waits (default 64). */
  readableHighWaterMark?: number;
  /** Bytes buffered on the writable side (default 64 KiB). */
  writableHighWaterMark?: number;
}

/** Bytes in, records out. A protocol error errors both sides with the FastCGIProtocolError. */
export class RecordDecoderStream extends TransformStream<Uint8Array, DecodedRecord> {
  constructor(options: RecordDecoderStreamOptions = {}) {
    let out: TransformStreamDefaultController<DecodedRecord> | null = null;
    let last: DecodedRecord | null = null;
    const decoder = new Decoder(
      {
        record(type, requestId, content, paddingLength) {
          last = { version: VERSION_1, type, requestId, content, paddingLength };
          out!.enqueue(last);
        },
        pairs(_type, _id, pairs) {
          // pairs() follows its record() at once: attach them before a reader can see the record
          last!.pairs = pairs;
        },
      },
      options,
    );
    super(
      {
        transform(chunk, controller) {
          out = controller;
          decoder.push(chunk);
        },
        flush(controller) {
          out = controller;
          decoder.end();
        },
      },
      { highWaterMark: options.writableHighWaterMark ?? 65536, size: (chunk) => chunk.byteLength },
      { highWaterMark: options.readableHighWaterMark ?? 64 },
    );
  }
}

/** A record to encode: stream payloads longer than one record are cut into several. */
export interface RecordToEncode {
  type: number;
  requestId: number;
  content?: Uint8Array;
}

export interface RecordEncoderStreamOptions {
  /** Records buffered on the writable side (default 64). */
  writableHighWaterMark?: number;
  /** Bytes buffered on the readable side before the writable side waits (default 64 KiB). */
  readableHighWaterMark?: number;
}

const STREAM_TYPES = new Set<number>([RecordType.STDIN, RecordType.STDOUT, RecordType.STDERR, RecordType.DATA]);

/**
 * Records in, bytes out. STDIN/STDOUT/STDERR/DATA content of any length is framed into as many records
 * as it needs (an empty content is the stream's end record); other types take at most 65535 bytes.
 */
export class RecordEncoderStream extends TransformStream<RecordToEncode, Uint8Array> {
  constructor(options: RecordEncoderStreamOptions = {}) {
    const encoder = new Encoder();
    super(
      {
        transform(rec, controller) {
          const content = rec.content ?? new Uint8Array(0);
          if (STREAM_TYPES.has(rec.type) && content.length > 0) {
            for (const part of encoder.stream(rec.type, rec.requestId, content)) controller.enqueue(part);
          } else {
            controller.enqueue(encoder.record(rec.type, rec.requestId, content));
          }
        },
      },
      { highWaterMark: options.writableHighWaterMark ?? 64 },
      { highWaterMark: options.readableHighWaterMark ?? 65536, size: (chunk) => chunk.byteLength },
    );
  }
}
