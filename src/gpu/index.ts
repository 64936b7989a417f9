export * from './errors.ts';
export { acquireDevice, gpuWait, OPTIONAL_FEATURES, type AcquireOptions, type AdapterChoice, type AdapterSummary } from './device.ts';
export { GpuContext, type ContextOptions } from './context.ts';
export { GpuTensor, chwToHwc, hwcToChw, type DType, type Layout } from './tensor.ts';
export { BufferPool, bucketSize } from './pool.ts';
export { shaderSource, variantKey } from './shaders.ts';
export * from './ops/conv.ts';
export * from './ops/pool.ts';
export * from './ops/eltwise.ts';
