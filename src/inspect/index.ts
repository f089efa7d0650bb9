// fcgi-wasm/inspect: FastCGI captures decoded for tools (the `fcgi inspect` command, the browser page).
// Pure functions over bytes: no I/O, any runtime. The record bytes are read by the codec's wasm Decoder.
//
//   inspect(input, options?) -> InspectReport                one shot: bytes (pcap, pcapng, raw FastCGI)
//                                                            or a string of hex
//   new Inspector({ ...options, onExchange, onFinding })     incremental: push(chunk) pieces of any size,
//     .push(chunk) ... .end() -> InspectReport               exchanges reported as they complete
//   reportToJSON(report)                                     plain JSON (previews as text or base64);
//                                                            JSON.stringify(report, reportReplacer) in one pass
//   parseHex(text) -> Uint8Array, parseHexDump(text)         hex dumps: xxd, hexdump -C, Wireshark/tshark
//
// InspectReport { format, conversations, findings, stats }:
//   Conversation { id, client?, server? {address, port}, firstTime?, lastTime?, exchanges, records, management }
//   Exchange { conversation, requestId, role, flags, keepConn, params [name, value][], stdin {bytes, preview},
//              data?, aborted, response? { status, headers, headersComplete, body, stderr, appStatus,
//              protocolStatus }, times { begin?, firstResponse?, end? } (ms since the epoch), findings }
//   RecordInfo { offset, direction 'to-app'|'from-app', type, typeName, requestId, contentLength,
//                paddingLength, time?, frame? }
//   Finding { code, severity 'error'|'warning', message, offset, direction?, conversation?, requestId?, frame? }
// Offsets are byte offsets in the direction's stream (raw input: in the input). Finding codes: FindingCodes
// (findings.ts) and the codec's DecodeErrorCodes.

export { Inspector, inspect, detectFormat, recordDirection } from './inspector.js';
export { parseHex, parseHexDump } from './hex.js';
export type { HexDump, HexChunk, HexForm } from './hex.js';
export { reportToJSON, reportReplacer, previewToJSON, readableText } from './json.js';
export type { JsonPreview } from './json.js';
export { FindingCodes, InspectInputError } from './findings.js';
export type { FindingCode } from './findings.js';
export type {
  InspectReport, InspectOptions, InspectorOptions, InspectStats, Conversation, Exchange, ResponseInfo, RecordInfo, Finding,
  ManagementRecord, Endpoint, BytesPreview, Direction, Severity, InputFormat,
} from './types.js';
