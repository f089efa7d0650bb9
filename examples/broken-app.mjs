// A deliberately broken FastCGI app, to see what the debugging tools say. It answers every request with
//   headers   (default) a CGI response missing the empty line after its headers: the classic bug behind
//             nginx's "upstream sent too big header" / Apache's "incomplete headers" and our 502
//   record    a record header with version 2: a FastCGI protocol error
// Written with the codec alone (no server): a real broken app would be a C or PHP program.
//   node examples/broken-app.mjs 127.0.0.1:9002 headers|record
import { createServer } from 'node:net';
import { Decoder, Encoder, RecordType } from 'fcgi-wasm';

const [host, port] = (process.argv[2] ?? '127.0.0.1:9002').split(':');
const mode = process.argv[3] ?? 'headers';
const encoder = new Encoder();
const text = new TextEncoder();

createServer((socket) => {
  const decoder = new Decoder({
    record(type, id, content) {
      if (type !== RecordType.STDIN || content.length > 0) return; // answer once the request is in
      if (mode === 'record') {
        const bad = encoder.stream(RecordType.STDOUT, id, text.encode('Content-Type: text/plain\r\n\r\nhi'))[0];
        bad[0] = 2; // the version byte
        socket.end(bad);
        return;
      }
      // "Content-Type: text/plain\r\n" then the body: no empty line between them
      socket.end(Buffer.concat([...encoder.stream(RecordType.STDOUT, id, text.encode('Content-Type: text/plain\r\nhello'), true), encoder.endRequest(id, 0)]));
    },
  });
  socket.on('data', (chunk) => decoder.push(chunk));
  socket.on('error', () => {});
}).listen(Number(port), host, () => console.error('listening'));
