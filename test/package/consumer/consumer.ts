// The package's types as a TypeScript user meets them: type-checked (never run) by test/package in the
// consumer project, under tsconfig.json beside this file.
import Fastify from 'fastify';
import type { Server } from 'node:http';
import { createServer, serve, Client, createGateway, type FcgiServer, type FetchHandler } from 'fcgi-wasm';
import { Decoder, Encoder, RecordType, Role, type PairList } from 'fcgi-wasm/codec';
import { RecordDecoderStream, RecordEncoderStream, type DecodedRecord } from 'fcgi-wasm/streams';
import { inspect, type InspectReport } from 'fcgi-wasm/inspect';
import { Manager } from 'fcgi-wasm/manager';

// Fastify's serverFactory takes createServer() as it is, no cast: an FcgiServer is an http.Server
export const app = Fastify({ serverFactory: (handler) => createServer(handler) });

export function nodeStyle(): Server {
  const server = createServer((req, res) => {
    const script: string | undefined = req.fcgi.params.get('SCRIPT_FILENAME');
    res.end(script);
  });
  // node:http's listen forms
  server.listen(9000, '127.0.0.1', () => {});
  server.listen(9000, '127.0.0.1', 511);
  server.listen({ port: 9000, host: '127.0.0.1' }, () => {});
  server.listen('/run/app.sock', 511, () => {});
  server.listen({ fd: 0 });
  // @ts-expect-error the types are the package's own, not `any`: listen() takes no boolean
  server.listen(true);
  server.setTimeout(5000).close((err?: Error) => void err);
  return server;
}

export function fetchStyle(): FcgiServer {
  const handler: FetchHandler = (request, info) => new Response(`${request.method} ${info.params.get('REMOTE_ADDR')}`);
  return serve(handler, { listen: { port: 9001, host: '127.0.0.1' } });
}

export function clientSide(): unknown[] {
  return [new Client({ address: '127.0.0.1:9000' }), createGateway({ backends: ['127.0.0.1:9000'], documentRoot: '/srv/www' }), Manager];
}

export function codecAndStreams(): [InspectReport, TransformStream<Uint8Array, DecodedRecord>, RecordEncoderStream] {
  const decoder = new Decoder({ pairs: (_type: number, _id: number, pairs: PairList) => void pairs.get('SCRIPT_FILENAME') });
  const bytes: Uint8Array = new Encoder().beginRequest(1, Role.RESPONDER);
  decoder.push(bytes);
  const stdin: number = RecordType.STDIN;
  void stdin;
  return [inspect(bytes), new RecordDecoderStream(), new RecordEncoderStream()];
}
