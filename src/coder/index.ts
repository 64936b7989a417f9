export {
  encodeWithIndexes,
  decodeWithIndexes,
  BufferedRansEncoder,
  RansEncoder,
  RansDecoder,
  MAX_ESCAPE_RAW,
  type DecodeOptions,
} from './rans.ts';
export { CdfTables, PRECISION, PROB_SCALE, type CdfInput, type CdfRows, type FlatCdfs } from './tables.ts';
export { RansError, CdfTableError, RansArgumentError, RansEncodeError, RansDecodeError, type RansErrorCode } from './errors.ts';
export {
  writeContainer,
  readContainer,
  fingerprint,
  checkFingerprint,
  ContainerError,
  Method,
  CONTAINER_MAGIC,
  CONTAINER_VERSION,
  CONTAINER_HEADER_BYTES,
  CONTAINER_HEADER_BYTES_V2,
  CONTAINER_MODELS,
  FINGERPRINT_BYTES,
  type ContainerFields,
  type ContainerMode,
  type ContainerModel,
  type ReadContainerFields,
  type ContainerMethod,
  type ReadContainerOptions,
} from './container.ts';
