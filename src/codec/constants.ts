// FastCGI 1.0 numbers (specification section 8) and this codec's event kinds.

/** Record types (spec 8). Types above UNKNOWN_TYPE are passed on as generic records. */
export const RecordType = {
  BEGIN_REQUEST: 1,
  ABORT_REQUEST: 2,
  END_REQUEST: 3,
  PARAMS: 4,
  STDIN: 5,
  STDOUT: 6,
  STDERR: 7,
  DATA: 8,
  GET_VALUES: 9,
  GET_VALUES_RESULT: 10,
  UNKNOWN_TYPE: 11,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** BEGIN_REQUEST roles. */
export const Role = { RESPONDER: 1, AUTHORIZER: 2, FILTER: 3 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** BEGIN_REQUEST flags. */
export const Flags = { KEEP_CONN: 1 } as const;

/** END_REQUEST protocol status. */
export const ProtocolStatus = { REQUEST_COMPLETE: 0, CANT_MPX_CONN: 1, OVERLOADED: 2, UNKNOWN_ROLE: 3 } as const;
export type ProtocolStatus = (typeof ProtocolStatus)[keyof typeof ProtocolStatus];

/** Names of the FCGI_GET_VALUES variables (spec 4.1). */
export const Values = { MAX_CONNS: 'FCGI_MAX_CONNS', MAX_REQS: 'FCGI_MAX_REQS', MPXS_CONNS: 'FCGI_MPXS_CONNS' } as const;

export const VERSION_1 = 1;
export const HEADER_LENGTH = 8;
/** The most content one record can carry. */
export const MAX_CONTENT_LENGTH = 0xffff;
/** Request id of management records. */
export const NULL_REQUEST_ID = 0;

/** Event kinds in the wasm event table (assembly/constants.ts, namespace Ev). */
export const Ev = {
  RECORD: 1,
  HEADER: 2,
  CONTENT: 3,
  RECORD_END: 4,
  PAIR: 5,
  PAIR_CARRIED: 6,
  BEGIN: 7,
  END: 8,
  UNKNOWN_TYPE: 9,
  ERROR: 15,
} as const;

const TYPE_NAMES: string[] = [];
for (const [name, value] of Object.entries(RecordType)) TYPE_NAMES[value] = name;

export function recordTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}
