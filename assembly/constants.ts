// Numbers shared with src/codec/constants.ts (FastCGI 1.0, section 8) and the event/error codes of
// this codec. test/codec/constants.test.ts checks that both sides agree.

export namespace RecordType {
  export const BEGIN_REQUEST: u32 = 1;
  export const ABORT_REQUEST: u32 = 2;
  export const END_REQUEST: u32 = 3;
  export const PARAMS: u32 = 4;
  export const STDIN: u32 = 5;
  export const STDOUT: u32 = 6;
  export const STDERR: u32 = 7;
  export const DATA: u32 = 8;
  export const GET_VALUES: u32 = 9;
  export const GET_VALUES_RESULT: u32 = 10;
  export const UNKNOWN_TYPE: u32 = 11;
}

/** Event kinds written to the event table (low byte of word 0). */
export namespace Ev {
  export const RECORD: u32 = 1;       // whole record in this chunk: content offset, length, padding (| 0x100: a pair continues past it)
  export const HEADER: u32 = 2;       // a record whose content continues past this chunk: clen, plen
  export const CONTENT: u32 = 3;      // a fragment of that record's content: chunk offset, length
  export const RECORD_END: u32 = 4;   // that record's content is complete: clen, plen, 0x100 if a pair continues past it
  export const PAIR: u32 = 5;         // a pair inside the chunk: name offset, name length, value length
  export const PAIR_CARRIED: u32 = 6; // a pair reassembled in wasm memory: address, name length, value length
  export const BEGIN: u32 = 7;        // role, flags
  export const END: u32 = 8;          // appStatus, protocolStatus
  export const UNKNOWN_TYPE: u32 = 9; // the unknown type
  export const ERROR: u32 = 15;       // error code, chunk offset
}

/** Error codes; src/codec/errors.ts maps them to names and messages. */
export namespace Err {
  export const BAD_VERSION: u32 = 1;
  export const BAD_BEGIN_LENGTH: u32 = 2;
  export const BEGIN_ON_NULL_ID: u32 = 3;
  export const BAD_END_LENGTH: u32 = 4;
  export const BAD_UNKNOWN_TYPE_LENGTH: u32 = 5;
  export const NV_TRUNCATED: u32 = 6;
  export const PAIR_TOO_LONG: u32 = 7;
  export const TOO_MANY_PARTIAL_PAIRS: u32 = 8;
  export const TRUNCATED_HEADER: u32 = 9;
  export const TRUNCATED_CONTENT: u32 = 10;
  export const TRUNCATED_PADDING: u32 = 11;
  export const OUT_OF_MEMORY: u32 = 12;
}

export const VERSION: u32 = 1;
export const HEADER_LEN: u32 = 8;
export const MAX_CONTENT: u32 = 65535;
