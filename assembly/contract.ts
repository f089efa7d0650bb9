// The contract between the wasm codec and its TypeScript face, defined here once. At build time
// scripts/contract.mjs turns every namespace below into src/codec/contract.generated.ts (the trailing
// comment of an Err constant becomes its error's rule), and test/codec/contract.test.ts checks the
// built module against it. Only `export const NAME: u32 = number;` lines belong in a namespace.

/** Record types (FastCGI 1.0, section 8). */
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

/**
 * Event kinds, the low byte of an event's first word (the word is kind | type << 8 | requestId << 16).
 * An event is EVENT_WORDS u32 words; the words after the first are given per kind.
 */
export namespace Ev {
  export const FRAGMENT: u32 = 1; // record content in this chunk: chunk offset, length, Frag flags | padding << 8 | content length << 16
  export const PAIR: u32 = 2; // a pair inside this chunk: name offset, name length, value length
  export const PAIR_CARRIED: u32 = 3; // a pair completed from carried bytes: carry address, name length, value length
  export const BEGIN: u32 = 4; // a BEGIN_REQUEST body: role, flags
  export const END: u32 = 5; // an END_REQUEST body: appStatus, protocolStatus
  export const UNKNOWN_TYPE: u32 = 6; // an UNKNOWN_TYPE body: the type
  export const ERROR: u32 = 15; // an Err code (its stream offset is in the state, ERR_AT)
}

/** Flags of a FRAGMENT event (the low byte of its last word); public as Fragment in src/codec. */
export namespace Frag {
  export const START: u32 = 1; // the record's first content bytes (its header came right before them)
  export const END: u32 = 2; // the record's last content bytes: the record is complete
  export const STREAM_END: u32 = 4; // an empty PARAMS, STDIN, STDOUT, STDERR or DATA record: the stream ends
  export const PAIR_OPEN: u32 = 8; // with END: a pair of this PARAMS stream continues in its next record
}

/** Error codes; src/codec/errors.ts names them, with the comment as the rule broken. */
export namespace Err {
  export const BAD_VERSION: u32 = 1; // a record header must have version 1 (spec 3.3)
  export const BAD_BEGIN_LENGTH: u32 = 2; // FCGI_BEGIN_REQUEST content must be exactly 8 bytes (spec 5.1)
  export const BEGIN_ON_NULL_ID: u32 = 3; // FCGI_BEGIN_REQUEST must not use the null request id 0 (spec 3.3)
  export const BAD_END_LENGTH: u32 = 4; // FCGI_END_REQUEST content must be exactly 8 bytes (spec 5.5)
  export const BAD_UNKNOWN_TYPE_LENGTH: u32 = 5; // FCGI_UNKNOWN_TYPE content must be exactly 8 bytes (spec 4.2)
  export const NV_TRUNCATED: u32 = 6; // a name-value pair must be complete before its stream or record ends (spec 3.4)
  export const PAIR_TOO_LONG: u32 = 7; // a name-value pair declared longer than the configured pair limit
  export const PARTIAL_PAIRS_TOO_LARGE: u32 = 8; // the partial name-value pairs held at the end of a PARAMS record need more memory than maxPartialPairBytes
  export const TRUNCATED_HEADER: u32 = 9; // the stream ended inside a record header
  export const TRUNCATED_CONTENT: u32 = 10; // the stream ended inside a record content
  export const TRUNCATED_PADDING: u32 = 11; // the stream ended inside a record padding
  export const OUT_OF_MEMORY: u32 = 12; // the decoder could not grow its memory
}

/** Where a decoder is inside the stream. */
export namespace Phase {
  export const HEADER: u32 = 0;
  export const CONTENT: u32 = 1;
  export const PADDING: u32 = 2;
}

/** One decoder's state: byte offsets inside its slot, which it owns from its first push to its end. */
export namespace State {
  export const PHASE: u32 = 0; // Phase
  export const HDR_LEN: u32 = 4; // header bytes gathered across chunk boundaries (0..7)
  export const HDR: u32 = 8; // 8 bytes
  export const TYPE: u32 = 16; // of the record in CONTENT phase
  export const ID: u32 = 20;
  export const CLEN: u32 = 24;
  export const PLEN: u32 = 28;
  export const REM: u32 = 32; // content or padding bytes still to come
  export const BODY_LEN: u32 = 36; // fixed-body bytes gathered (BEGIN / END / UNKNOWN_TYPE)
  export const BODY: u32 = 40; // 8 bytes
  export const CARRIES: u32 = 48; // address of the first partial pair (a Carry slot), 0 if none
  export const HELD: u32 = 52; // bytes of slots and pages the partial pairs hold
  export const ERROR: u32 = 56; // sticky Err code, 0 while healthy
  export const PAIR_LIMIT: u32 = 60; // longest name + value accepted
  export const BUDGET: u32 = 64; // most HELD may be at the end of a PARAMS record
  export const STARTED: u32 = 68; // 1 once content of the record in CONTENT phase was handed on
  export const ERR_AT: u32 = 72; // f64: stream offset of the sticky error
  export const REC_AT: u32 = 80; // f64: stream offset of the header of the record in CONTENT phase
  export const DONE: u32 = 88; // carries the last call completed, until their pairs are copied out (releaseCarried)
}

/** A partial name-value pair: byte offsets inside its slot; its bytes are in a chain of pages. */
export namespace Carry {
  export const NEXT: u32 = 0; // the decoder's next carry
  export const KEY: u32 = 4; // type << 16 | request id
  export const LEN: u32 = 8; // bytes held
  export const FIRST: u32 = 12; // first page
  export const LAST: u32 = 16; // last page
  export const HEAD: u32 = 20; // the pair's first 8 bytes (its two lengths lie in them)
  export const BEGAN: u32 = 32; // f64: stream offset of the pair's first byte
}

/** The wasm heap: fixed-size slots (decoder states, carries) and pages (carried bytes), each reused. */
export namespace Heap {
  export const SLOT: u32 = 128;
  export const PAGE: u32 = 1024; // the next page's address, then PAGE_DATA bytes
  export const PAGE_DATA: u32 = 1020;
}

/** Byte offsets in the globals block: what the last call returned, and the heap's counters. */
export namespace Globals {
  export const EVENTS: u32 = 0; // events written by the last decode() or pairs()
  export const WANT: u32 = 4; // bytes the next window needs at least
  export const DONE: u32 = 8; // PAIR_CARRIED events written by the last call
  export const HEAP_TOP: u32 = 12; // first address above everything allocated: encoder scratch starts here
  export const SLOTS_USED: u32 = 16;
  export const PAGES_USED: u32 = 20;
  export const FREE_SLOTS: u32 = 24; // the first free slot, each linking the next by its first word
  export const FREE_PAGES: u32 = 28;
}

/** Sizes of the shared regions. */
export namespace Layout {
  export const EVENT_WORDS: u32 = 4;
  // The largest window the TypeScript side may copy in: a whole record content (65535) plus its header.
  export const INPUT_CAP: u32 = 65600;
  // A window of INPUT_CAP bytes yields at most one event per two bytes (empty pairs), plus the few that
  // need no window bytes (fragments, bodies): the table cannot overflow.
  export const EVENT_CAP: u32 = 32864;
  export const GLOBALS_SIZE: u32 = 64;
}

export const VERSION: u32 = 1;
export const HEADER_LEN: u32 = 8;
