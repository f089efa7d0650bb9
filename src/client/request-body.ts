// A request body read whole before a backend is contacted, as nginx does by default
// (client_body_buffer_size, client_max_body_size, client_body_timeout): a slow upload then never holds
// a backend worker, and CONTENT_LENGTH is the length actually received. The first `inMemory` bytes stay
// in memory; past that the body goes to a temp file, which is unlinked as soon as it is open, so nothing
// is left on disk whatever becomes of the request or the process; it is read back through its descriptor.

import type { IncomingMessage } from 'node:http';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FastCGIError } from '../codec/errors.js';
import { concatBytes } from '../codec/bytes.js';

export interface BodyLimits {
  /** Bytes kept in memory; a longer body goes to a temp file. */
  inMemory: number;
  /** Most bytes accepted (BODY_TOO_LARGE, 413, beyond). */
  maxSize: number;
  /** Most milliseconds between two reads of the body (BODY_TIMEOUT, 408). 0 = none. */
  timeout: number;
  /** Where temp files are made. */
  tempDir: string;
}

/** A body in hand: its bytes, or a temp file read back in pieces. release() closes the file. */
export interface HeldBody {
  length: number;
  /** The bytes, or an iterable that reads the file from its start each time it is iterated. */
  body: Uint8Array | AsyncIterable<Uint8Array>;
  release(): void;
}

const READ_SIZE = 64 * 1024;

/** Reads `req`'s body whole within `limits`; rejects with BODY_TOO_LARGE, BODY_TIMEOUT or CLIENT_GONE. */
export function readBody(req: IncomingMessage, limits: BodyLimits): Promise<HeldBody> {
  return new Promise((resolve, reject) => {
    const parts: Uint8Array[] = [];
    let size = 0;
    let file: FileHandle | null = null;
    let writing: Promise<void> = Promise.resolve();
    let settled = false;
    const timer = limits.timeout > 0 ? setTimeout(() => fail(new FastCGIError('BODY_TIMEOUT', `the client sent no body bytes for ${limits.timeout} ms`)), limits.timeout) : null;

    const fail = (error: unknown): void => {
      if (settled) return;
      settled = true;
      done();
      req.pause(); // the rest of the body is not wanted: the response closes the connection
      void writing.finally(() => file?.close().catch(() => {}));
      reject(error);
    };
    const done = (): void => {
      if (timer) clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limits.maxSize) return fail(tooLarge(limits.maxSize));
      timer?.refresh();
      if (file === null && size <= limits.inMemory) return void parts.push(chunk);
      req.pause();
      writing = writing
        .then(async () => {
          file ??= await tempFile(limits.tempDir);
          for (const p of parts.splice(0)) await writeAll(file, p);
          await writeAll(file, chunk);
          if (!settled) req.resume();
        })
        .catch(fail);
    };
    const onEnd = (): void => {
      done();
      void writing.then(() => {
        if (settled) return;
        settled = true;
        if (file === null) return resolve({ length: size, body: concatBytes(parts, size), release() {} });
        const held = file;
        resolve({ length: size, body: fileBody(held, size), release: () => void held.close().catch(() => {}) });
      });
    };
    const onClose = (): void => fail(new FastCGIError('CLIENT_GONE', 'the HTTP client went away while sending its body'));
    req.on('data', onData).on('end', onEnd).on('close', onClose);
  });
}

export function tooLarge(maxSize: number): FastCGIError {
  return new FastCGIError('BODY_TOO_LARGE', `the request body is over ${maxSize} bytes`);
}

/** A new temp file, already unlinked: only its descriptor reaches it. */
async function tempFile(dir: string): Promise<FileHandle> {
  const path = join(dir, `fcgi-wasm-body-${process.pid}-${randomBytes(8).toString('hex')}`);
  const file = await open(path, 'wx+', 0o600);
  await unlink(path);
  return file;
}

async function writeAll(file: FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await file.write(bytes, at, bytes.length - at)).bytesWritten;
}

/** The file's `length` bytes from its start, each time it is iterated (positioned reads: no shared offset). */
function fileBody(file: FileHandle, length: number): AsyncIterable<Uint8Array> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let at = 0; at < length; ) {
        const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, length - at));
        const got = (await file.read(buffer, 0, buffer.length, at)).bytesRead;
        if (got === 0) throw new FastCGIError('BODY_FILE_SHORT', `the request body's temp file ended at ${at} of ${length} bytes`);
        at += got;
        yield got === buffer.length ? buffer : buffer.subarray(0, got);
      }
    },
  };
}
