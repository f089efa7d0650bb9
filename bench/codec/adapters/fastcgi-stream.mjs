// npm fastcgi-stream 1.0.0 (the parser inside node-fastcgi). It listens for 'data' on the stream it is
// given, so an EventEmitter stands in for the socket. It hands out record objects: STDOUT/STDIN content as
// a copied Buffer in .data (a '' string when empty), PARAMS as .params, an array of [name, value] or a bare
// name when the value is empty.
import { createRequire } from 'node:module';
import { EventEmitter } from 'node:events';

const require = createRequire(import.meta.url);
const { FastCGIStream } = require('fastcgi-stream');
const PARAMS = 4;

export default {
  name: 'fastcgi-stream',
  version: require('fastcgi-stream/package.json').version,
  createParser(tally) {
    const socket = new EventEmitter();
    new FastCGIStream(socket).on('record', (requestId, rec) => {
      tally.records++;
      if (rec.TYPE === PARAMS) {
        for (const p of rec.params) {
          tally.pairs++;
          tally.chars += typeof p === 'string' ? p.length : p[0].length + p[1].length;
        }
      } else if (rec.data !== undefined) {
        tally.content += rec.data.length;
      }
    });
    return {
      push(chunk) {
        socket.emit('data', chunk);
      },
    };
  },
};
