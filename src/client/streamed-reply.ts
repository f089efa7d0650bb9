// A reply as streams, for Client.request() and fetch(): stdout with backpressure (the app's connection
// is paused while the reader is more than STDOUT_HIGH_WATER behind), stderr, the CGI head once parsed,
// and the end. Cancelling stdout gives the FastCGI request up; nothing reaches a cancelled stream.
// stderr never pauses the connection (a caller reading only stdout would wait for ever): while its
// reader is STDERR_KEPT bytes behind, what comes is dropped and counted (every chunk still reaches the
// Client's 'stderr' event).

import type { ReplyFlow, ReplySink } from './client.js';
import { CgiResponseParser, type CgiHead } from '../protocol/cgi-response.js';

/** Bytes of stdout held for a reader that is behind, before the app's connection is paused. */
const STDOUT_HIGH_WATER = 64 * 1024;
/** Bytes of stderr held for a reader that is behind (or none); past this, stderr is dropped. */
export const STDERR_KEPT = 64 * 1024;

interface Settle<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export class StreamedReply implements ReplySink {
  readonly stdoutStream: ReadableStream<Uint8Array>;
  readonly stderrStream: ReadableStream<Uint8Array>;
  /** Rejects with INCOMPLETE_HEADERS if stdout ends first, or with the request's failure. */
  readonly head: Promise<CgiHead>;
  /** END_REQUEST's app status and the stderr bytes dropped; rejects on failure (the streams error with the same error). */
  readonly done: Promise<{ appStatus: number; stderrDropped: number }>;
  /** stderr bytes dropped because the stream's reader was STDERR_KEPT behind. */
  private stderrDropped = 0;
  private stdoutC!: ReadableStreamDefaultController<Uint8Array>;
  private stderrC!: ReadableStreamDefaultController<Uint8Array>;
  /** Whether each stream still takes chunks (not closed, errored or cancelled). */
  private stdoutOpen = true;
  private stderrOpen = true;
  private flow: ReplyFlow | null = null;
  private paused = false;
  private parser: CgiResponseParser | null = new CgiResponseParser(); // null once the head is parsed
  private headSettle!: Settle<CgiHead>;
  private doneSettle!: Settle<{ appStatus: number; stderrDropped: number }>;

  constructor() {
    this.stdoutStream = new ReadableStream<Uint8Array>(
      {
        start: (c) => void (this.stdoutC = c),
        pull: () => this.unpause(),
        cancel: () => {
          this.stdoutOpen = false;
          this.flow?.cancel();
        },
      },
      { highWaterMark: STDOUT_HIGH_WATER, size: (chunk) => chunk.byteLength },
    );
    this.stderrStream = new ReadableStream<Uint8Array>(
      {
        start: (c) => void (this.stderrC = c),
        cancel: () => void (this.stderrOpen = false),
      },
      { highWaterMark: STDERR_KEPT, size: (chunk) => chunk.byteLength },
    );
    this.head = new Promise((resolve, reject) => (this.headSettle = { resolve, reject }));
    this.done = new Promise((resolve, reject) => (this.doneSettle = { resolve, reject }));
    // a caller that only reads stdout sees failures there: neither promise may go unhandled
    this.head.catch(() => {});
    this.done.catch(() => {});
  }

  started(flow: ReplyFlow): void {
    this.flow = flow;
  }

  stdout(chunk: Uint8Array): void {
    if (this.parser) {
      try {
        const parsed = this.parser.push(chunk);
        if (parsed) {
          this.parser = null;
          this.headSettle.resolve(parsed.head!);
        }
      } catch (e) {
        this.parser = null;
        this.headSettle.reject(e);
      }
    }
    if (!this.stdoutOpen) return;
    this.stdoutC.enqueue(chunk);
    if (this.stdoutC.desiredSize! <= 0 && !this.paused && this.flow) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** Lets the app's connection go on (the reader caught up, or the request is over). */
  private unpause(): void {
    if (!this.paused) return;
    this.paused = false;
    this.flow?.resume();
  }

  stderr(chunk: Uint8Array): void {
    if (!this.stderrOpen) return;
    if (this.stderrC.desiredSize! < chunk.byteLength) this.stderrDropped += chunk.byteLength;
    else this.stderrC.enqueue(chunk.slice()); // its own bytes: a view would hold the whole chunk it came in
  }

  end(appStatus: number): void {
    this.unpause(); // END_REQUEST may come in the read that filled the stream: no pull would follow
    if (this.parser) {
      try {
        this.parser.end(); // throws INCOMPLETE_HEADERS
      } catch (e) {
        this.headSettle.reject(e);
      }
      this.parser = null;
    }
    if (this.stdoutOpen) this.stdoutC.close();
    if (this.stderrOpen) this.stderrC.close();
    this.stdoutOpen = this.stderrOpen = false;
    this.doneSettle.resolve({ appStatus, stderrDropped: this.stderrDropped });
  }

  fail(error: unknown): void {
    this.unpause();
    this.parser = null;
    this.headSettle.reject(error);
    if (this.stdoutOpen) this.stdoutC.error(error);
    if (this.stderrOpen) this.stderrC.error(error);
    this.stdoutOpen = this.stderrOpen = false;
    this.doneSettle.reject(error);
  }
}
