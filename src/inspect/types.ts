// The inspector's report: what a capture held, as plain objects (no classes, no methods), so that a
// worker can post them and a CLI can print them. Times are milliseconds since the Unix epoch, from the
// capture's packet timestamps (absent for raw bytes and hex, which carry no time).

export type Direction = 'to-app' | 'from-app';
export type Severity = 'error' | 'warning';
export type InputFormat = 'raw' | 'hex' | 'pcap' | 'pcapng';

export interface Endpoint {
  address: string;
  port: number;
}

/** A byte count and the first bytes (at most `previewBytes`, a copy). */
export interface BytesPreview {
  bytes: number;
  preview: Uint8Array;
}

export interface Finding {
  /** Stable code (see FindingCodes in findings.ts). */
  code: string;
  severity: Severity;
  message: string;
  /** Offset in the direction's byte stream (raw input: in the input) where the rule was broken. */
  offset: number;
  direction?: Direction;
  conversation?: number;
  requestId?: number;
  /** The capture's frame (1-based, as Wireshark numbers them) that carried the offending bytes. */
  frame?: number;
}

export interface RecordInfo {
  /** Stream offset of the record header in its direction. */
  offset: number;
  direction: Direction;
  type: number;
  typeName: string;
  requestId: number;
  contentLength: number;
  paddingLength: number;
  time?: number;
  frame?: number;
}

export interface ResponseInfo {
  /** CGI status (Status: header, 302 for a Location without one, else 200); absent until the head is complete. */
  status?: number;
  statusText?: string;
  headers: [string, string][];
  headersComplete: boolean;
  /** STDOUT bytes after the CGI head. */
  body: BytesPreview;
  /** STDOUT bytes in all, head included. */
  stdoutBytes: number;
  stderr: BytesPreview;
  appStatus?: number;
  protocolStatus?: number;
}

export interface Exchange {
  /** Conversation id. */
  conversation: number;
  requestId: number;
  role: number;
  roleName: string;
  flags: number;
  keepConn: boolean;
  /** Every pair of the PARAMS stream, in order, as Latin-1 strings (CGI params are bytes). */
  params: [string, string][];
  paramsComplete: boolean;
  stdin: BytesPreview & { complete: boolean };
  /** FCGI_DATA (the Filter role). */
  data?: BytesPreview & { complete: boolean };
  aborted: boolean;
  response?: ResponseInfo;
  times: { begin?: number; firstResponse?: number; end?: number };
  /** Offset of the BEGIN_REQUEST record in the to-app stream. */
  offset: number;
  findings: Finding[];
}

/** A management record (request id 0): GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE. */
export interface ManagementRecord {
  direction: Direction;
  type: number;
  typeName: string;
  offset: number;
  pairs?: [string, string][];
  /** UNKNOWN_TYPE: the type the app did not know. */
  unknownType?: number;
  time?: number;
}

export interface Conversation {
  id: number;
  /** The web-server side (who sent BEGIN_REQUEST) and the app side, for captures. */
  client?: Endpoint;
  server?: Endpoint;
  firstTime?: number;
  lastTime?: number;
  exchanges: Exchange[];
  records: RecordInfo[];
  management: ManagementRecord[];
  /** Bytes seen in each direction. */
  bytesToApp: number;
  bytesFromApp: number;
  /** The connection was seen to close (FIN or RST) before the capture ended. */
  closed: boolean;
}

export interface InspectStats {
  /** Input bytes read. */
  bytes: number;
  /** Capture packets read (pcap, pcapng). */
  packets?: number;
  records: number;
  requests: number;
  conversations: number;
  /** TCP connections seen that were not FastCGI. */
  otherConnections?: number;
}

export interface InspectReport {
  format: InputFormat;
  conversations: Conversation[];
  /** Every finding, in the order found (each also in its exchange's findings when it has one). */
  findings: Finding[];
  stats: InspectStats;
}

export interface InspectOptions {
  /** 'auto' (default) tells pcap, pcapng, hex text and raw FastCGI bytes apart by their first bytes. */
  format?: 'auto' | InputFormat;
  /** Bytes kept of each body, stdin and stderr preview. Default 256. */
  previewBytes?: number;
  /** Keep every record in Conversation.records (default true; false saves memory on big captures). */
  records?: boolean;
}

export interface InspectorOptions extends InspectOptions {
  /** An exchange is complete (END_REQUEST, or the end of its connection or of the input). */
  onExchange?(conversation: Conversation, exchange: Exchange): void;
  onFinding?(finding: Finding): void;
}
