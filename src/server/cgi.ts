// Plain CGI/1.1 (RFC 3875): the same handler answers one request from the environment and stdin, on
// stdout, when the program was started as a CGI script rather than as a FastCGI app.

import { PairList } from '../codec/pairs.js';
import { Role } from '../codec/constants.js';
import type { ServerRequestInfo } from '../protocol/server-connection.js';
import type { RequestChannel, RequestSink } from './socket-connection.js';

/** The environment as CGI params (Latin-1 bytes, as a web server would send them). */
export function paramsFromEnv(env: NodeJS.ProcessEnv): PairList {
  const list = new PairList();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const bytes = Buffer.from(name + value, 'latin1');
    list.add(bytes, 0, Buffer.byteLength(name, 'latin1'), Buffer.byteLength(value, 'latin1'));
  }
  return list;
}

/** Runs one request as CGI; resolves with the exit status (the app status). */
export function runCgi(start: (channel: RequestChannel, info: ServerRequestInfo) => RequestSink): Promise<number> {
  return new Promise((resolve) => {
    const stdout = process.stdout;
    const channel: RequestChannel = {
      stdout: (_id, chunk) => void stdout.write(chunk),
      stderr: (_id, chunk) => void process.stderr.write(chunk),
      end(_id, appStatus, last) {
        if (last && last.length > 0) stdout.write(last);
        process.stdin.pause();
        stdout.write('', () => resolve(appStatus));
      },
      get needDrain() {
        return stdout.writableNeedDrain;
      },
      whenDrained: (callback) => (stdout.writableNeedDrain ? stdout.once('drain', callback) : callback()),
      congest: () => void process.stdin.pause(),
      relieve: () => void process.stdin.resume(),
      maxBodyBuffer: 1 << 20,
    };
    const params = paramsFromEnv(process.env);
    const sink = start(channel, { requestId: 1, role: Role.RESPONDER, keepConn: false, params });
    // RFC 3875 4.2: the body is CONTENT_LENGTH bytes of stdin
    let left = Number(process.env.CONTENT_LENGTH ?? 0) || 0;
    if (left === 0) {
      sink.stdin(new Uint8Array(0));
      return;
    }
    process.stdin.on('data', (chunk: Buffer) => {
      if (left <= 0) return;
      const piece = chunk.length > left ? chunk.subarray(0, left) : chunk;
      left -= piece.length;
      sink.stdin(piece);
      if (left === 0) sink.stdin(new Uint8Array(0));
    });
    process.stdin.on('end', () => {
      if (left > 0) {
        left = 0;
        sink.stdin(new Uint8Array(0));
      }
    });
  });
}
