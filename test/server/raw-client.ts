// A deliberately small FastCGI client for the application-side tests: one connection, requests written
// with the Encoder, replies collected per request id with the Decoder.

import { connect, type Socket } from 'node:net';
import { Decoder, Encoder, RecordType, Role, Flags } from '../../src/codec/index.js';

export interface Reply {
  stdout: Buffer;
  /** How many STDOUT records carried bytes (the empty one that ends the stream not counted). */
  stdoutRecords: number;
  stderr: Buffer;
  appStatus: number;
  protocolStatus: number;
}

export class RawClient {
  private readonly socket: Socket;
  private readonly enc = new Encoder();
  private readonly replies = new Map<number, { stdout: Buffer[]; stderr: Buffer[]; resolve: (r: Reply) => void }>();
  readonly closed: Promise<void>;
  readonly others: { type: number; id: number; content: Uint8Array }[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    const dec = new Decoder({
      record: (type, id, content) => {
        const r = this.replies.get(id);
        if (type === RecordType.STDOUT && r) r.stdout.push(Buffer.from(content));
        else if (type === RecordType.STDERR && r) r.stderr.push(Buffer.from(content));
        else if (type !== RecordType.END_REQUEST) this.others.push({ type, id, content: content.slice() });
      },
      end: (id, appStatus, protocolStatus) => {
        const r = this.replies.get(id);
        if (!r) return;
        this.replies.delete(id);
        r.resolve({ stdout: Buffer.concat(r.stdout), stdoutRecords: r.stdout.filter((b) => b.length > 0).length, stderr: Buffer.concat(r.stderr), appStatus, protocolStatus });
      },
    });
    socket.on('data', (c) => dec.push(c));
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
  }

  static connect(target: number | string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = typeof target === 'number' ? connect(target, '127.0.0.1') : connect(target);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  /** Bytes for a whole request; `write` false to only build them. */
  requestBytes(id: number, params: Record<string, string>, body: Uint8Array = new Uint8Array(0), opts: { role?: number; keep?: boolean; data?: Uint8Array } = {}): Buffer {
    const parts = [
      this.enc.beginRequest(id, opts.role ?? Role.RESPONDER, opts.keep === false ? 0 : Flags.KEEP_CONN),
      this.enc.pairs(id, params),
      ...this.enc.stream(RecordType.STDIN, id, body, true),
    ];
    if (opts.data) parts.push(...this.enc.stream(RecordType.DATA, id, opts.data, true));
    return Buffer.concat(parts);
  }

  expect(id: number): Promise<Reply> {
    return new Promise((resolve) => this.replies.set(id, { stdout: [], stderr: [], resolve }));
  }

  request(id: number, params: Record<string, string>, body?: Uint8Array, opts?: { role?: number; keep?: boolean; data?: Uint8Array }): Promise<Reply> {
    const reply = this.expect(id);
    this.socket.write(this.requestBytes(id, params, body, opts));
    return reply;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }
  close(): void {
    this.socket.destroy();
  }
}

/** Splits a CGI response into status, headers and body. */
export function parseCgi(stdout: Buffer): { status: number; headers: Record<string, string>; body: string } {
  const text = stdout.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, end).split('\r\n')) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim();
  }
  return { status: parseInt(headers.status ?? '200', 10), headers, body: text.slice(end + 4) };
}
