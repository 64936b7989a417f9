export { HyperpriorCodec, CodecInputError, type CodecMode, type CompressResult, type DecompressResult, type CodecWeightsLike, type StageTimer } from './codec.ts';
export { encodeFeatures, decodeFeatures, computePadding, method2Size, quantParams, type FeatureMethod, type EncodeFeaturesOptions, type EncodedFeatures, type DecodedFeatures } from './features.ts';
export { hyperpriorParams, CodecWeightsError, type HyperpriorParams } from './params.ts';
export type { CodecOps } from './ops.ts';
export { gA, hA, hS, gS, hSPortableIndexes, prepareLayers, type PortableTrace } from './graph.ts';
