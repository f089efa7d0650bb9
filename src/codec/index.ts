// fcgi-wasm/codec: the FastCGI record codec, usable in any runtime.
export { Decoder, DEFAULT_MAX_PARAMS_BYTES, defaultPartialPairBudget } from './decoder.js';
export type { DecoderHandler, DecoderOptions } from './decoder.js';
export { Encoder, pairBytes } from './encoder.js';
export type { EncoderOptions, PairInput, Pairs } from './encoder.js';
export { PairList, latin1 } from './pairs.js';
export { decodeRecords, decodePairs, decodePairList, encodeRecord, encodePairs } from './records.js';
export type { FcgiRecord } from './records.js';
export { FastCGIError, FastCGIProtocolError, DecodeErrorCodes } from './errors.js';
export {
  RecordType, Role, Flags, Fragment, ProtocolStatus, Values, VERSION_1, HEADER_LENGTH, MAX_CONTENT_LENGTH, NULL_REQUEST_ID, recordTypeName,
} from './constants.js';
