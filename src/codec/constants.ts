// FastCGI 1.0 numbers (specification section 8) and the flags of a fragment.

import * as Contract from './contract.generated.js';

/** Record types (spec 8), from assembly/contract.ts. Types above UNKNOWN_TYPE are passed on as generic records. */
export const RecordType = Contract.RecordType;
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

/**
 * Flags of a fragment (DecoderHandler.fragment): START, the record's first content bytes; END, its
 * last (the record is complete); STREAM_END, an empty PARAMS,
 * STDIN, STDOUT, STDERR or DATA record, which ends its stream; PAIR_OPEN, with END on PARAMS, a pair
 * continues in the stream's next record. `flags >>> 8` is the record's padding length.
 */
export const Fragment = Contract.Frag;

const TYPE_NAMES: string[] = [];
for (const [name, value] of Object.entries(RecordType)) TYPE_NAMES[value] = name;

export function recordTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}
