/**
 * What kernel selectors know about the adapter (pure; tested): its class (software rasterizer, integrated or discrete
 * GPU), vendor and architecture from GPUAdapterInfo, subgroup sizes where the adapter reports them, and the limits a
 * variant must respect. Selectors (selectConvVariant, ...) take this description and return a variant, so every
 * adapter class can be tested on any machine: the chosen variant runs on lavapipe/SwiftShader against the CPU
 * reference (test/gpu/adapter-variants.test.ts).
 */

export type AdapterClass = 'software' | 'integrated' | 'discrete';

export interface AdapterDescription {
  class: AdapterClass;
  /** Lower-case vendor as GPUAdapterInfo reports it ('nvidia', 'amd', 'intel', 'apple', 'mesa', 'google', ...). */
  vendor: string;
  architecture: string;
  /** GPUAdapterInfo.subgroupMinSize / subgroupMaxSize where reported (0: unknown). */
  subgroupMinSize: number;
  subgroupMaxSize: number;
  maxInvocations: number;
  maxWorkgroupStorage: number;
  hasF16: boolean;
}

/** The subset of GPUAdapterInfo (plus Dawn's summary) that classification reads. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|microsoft basic render|\bwarp\b|software/i;
/** AMD integrated parts (APUs): "AMD Radeon(TM) Graphics", "Radeon Vega 8 Graphics", Steam Deck "Custom GPU 0405". */
const AMD_INTEGRATED = /radeon\(tm\) graphics|vega \d+ graphics|radeon graphics|custom gpu|apu|rdna[23]?-?igpu|\d{3}m\b/i;
/** Intel discrete parts (Arc, Xe-HPG / Battlemage). */
const INTEL_DISCRETE = /\barc\b|xe-hpg|xe-hpc|alchemist|battlemage|dg2/i;

/** Adapter class from GPUAdapterInfo (pure; tested). Unknown vendors count as integrated (the conservative tile). */
export function classifyAdapter(info: AdapterInfoLike): AdapterClass {
  const text = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  if (info.isFallbackAdapter || SOFTWARE.test(text)) return 'software';
  const vendor = (info.vendor ?? '').toLowerCase();
  if (vendor.includes('nvidia')) return 'discrete';
  if (vendor.includes('amd') || vendor.includes('ati')) return AMD_INTEGRATED.test(text) ? 'integrated' : 'discrete';
  if (vendor.includes('intel')) return INTEL_DISCRETE.test(text) ? 'discrete' : 'integrated';
  return 'integrated'; // apple, arm, qualcomm, imagination, unknown
}

/** Full description from adapter info, limits and features (pure; tested). */
export function describeAdapter(
  info: AdapterInfoLike,
  limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number },
  features: Iterable<string> = [],
): AdapterDescription {
  const f = new Set(features);
  return {
    class: classifyAdapter(info),
    vendor: (info.vendor ?? '').toLowerCase(),
    architecture: (info.architecture ?? '').toLowerCase(),
    subgroupMinSize: info.subgroupMinSize ?? 0,
    subgroupMaxSize: info.subgroupMaxSize ?? 0,
    maxInvocations: limits.maxComputeInvocationsPerWorkgroup,
    maxWorkgroupStorage: limits.maxComputeWorkgroupStorageSize,
    hasF16: f.has('shader-f16'),
  };
}

/** A software adapter with WebGPU's default limits: what selectors assume when given only limits (the old behaviour). */
export const SOFTWARE_DEFAULT: AdapterDescription = {
  class: 'software',
  vendor: '',
  architecture: '',
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
  maxInvocations: 256,
  maxWorkgroupStorage: 16384,
  hasF16: false,
};

/** Example descriptions of each class, as real adapters report them (tests and `webvcm tune --as`). */
export const EXAMPLE_ADAPTERS: Record<string, AdapterDescription> = {
  lavapipe: describeAdapter(
    { vendor: 'mesa', architecture: '', description: 'llvmpipe (LLVM 19.1.7, 256 bits)' },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 },
  ),
  swiftshader: describeAdapter(
    { vendor: 'google', architecture: '', description: 'SwiftShader Device (Subzero)' },
    { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 },
  ),
  'intel-xe': describeAdapter(
    { vendor: 'intel', architecture: 'gen-12lp', description: 'Intel(R) Iris(R) Xe Graphics', subgroupMinSize: 8, subgroupMaxSize: 32 },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 },
    ['shader-f16'],
  ),
  'apple-m': describeAdapter(
    { vendor: 'apple', architecture: 'metal-3', subgroupMinSize: 32, subgroupMaxSize: 32 },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 },
    ['shader-f16'],
  ),
  'amd-apu': describeAdapter(
    { vendor: 'amd', architecture: 'rdna-2', description: 'AMD Radeon(TM) Graphics', subgroupMinSize: 32, subgroupMaxSize: 64 },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 },
    ['shader-f16'],
  ),
  'amd-rdna3': describeAdapter(
    { vendor: 'amd', architecture: 'rdna-3', description: 'AMD Radeon RX 7900 XTX', subgroupMinSize: 32, subgroupMaxSize: 64 },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 },
    ['shader-f16'],
  ),
  'nvidia-hopper': describeAdapter(
    { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200', subgroupMinSize: 32, subgroupMaxSize: 32 },
    { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 49152 },
    ['shader-f16'],
  ),
};
