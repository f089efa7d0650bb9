// Our codec with `reuseSplitBuffer: true`: a record split across chunks is reassembled into one reused
// buffer, valid during the record() call (the walker's contract), instead of a fresh one per record.
import { adapter } from './fcgi-wasm.mjs';

export default adapter('fcgi-wasm-reuse', { reuseSplitBuffer: true });
