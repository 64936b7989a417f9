/**
 * Which backend an encoder / decoder runs on: WebGPU or the WebAssembly SIMD kernels (src/wasm).
 *
 *   'webgpu' — a WebGPU adapter (fails with GpuUnavailableError without one);
 *   'wasm'   — the wasm backend, whatever adapters exist;
 *   'auto'   — WebGPU when an adapter exists, else wasm with a one-line notice. In Node, a software adapter (lavapipe,
 *              SwiftShader) loses to wasm where the benchmark measured wasm faster on the graph (WASM_FASTER_THAN).
 *
 * The default is $WEBVCM_BACKEND in Node when set, else 'auto'. `decideBackend` is pure (tested); `resolveBackend`
 * probes the adapter.
 */
import { classifyAdapter } from '../gpu/adapter-class.ts';
import type { AdapterSummary } from '../gpu/device.ts';

export type BackendChoice = 'auto' | 'webgpu' | 'wasm';
export type BackendKind = 'webgpu' | 'wasm';
/** The graphs a runtime runs: the encoder (stem + g_a/h_a + h_s) or the decoder (h_s + g_s + res2…heads). */
export type RuntimeRole = 'encoder' | 'decoder';
export type SoftwareAdapter = 'lavapipe' | 'swiftshader';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'webgpu', 'wasm'];

/**
 * Measured by bench/wasm.ts (docs/performance.md, "wasm backend"): whether webvcm's wasm backend ran the role's
 * graphs faster than webvcm's WGSL kernels on that software adapter, same machine and process. Encoder: enc + hs;
 * decoder: dec + hs + trunk. lavapipe (2 cores): wasm 1.7–7.7× faster on every graph at 1 and 2 threads.
 * SwiftShader: 36–46× slower than ORT wasm on these graphs (ort-compare), which wasm matches. Unmeasured adapters
 * keep WebGPU.
 */
export const WASM_FASTER_THAN: Record<SoftwareAdapter, Record<RuntimeRole, boolean>> = {
  lavapipe: { encoder: true, decoder: true },
  swiftshader: { encoder: true, decoder: true },
};

export class BackendChoiceError extends Error {
  override name = 'BackendChoiceError';
}

export function parseBackend(v: unknown, what = 'backend'): BackendChoice {
  if (v === undefined || v === null || v === '') return defaultBackend();
  if (typeof v === 'string' && (BACKEND_CHOICES as readonly string[]).includes(v)) return v as BackendChoice;
  throw new BackendChoiceError(`${what} must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(v)}`);
}

/** $WEBVCM_BACKEND (Node) when it names a choice, else 'auto'. */
export function defaultBackend(): BackendChoice {
  const env = typeof process !== 'undefined' ? process.env?.WEBVCM_BACKEND : undefined;
  if (env === undefined || env === '') return 'auto';
  if ((BACKEND_CHOICES as readonly string[]).includes(env)) return env as BackendChoice;
  throw new BackendChoiceError(`WEBVCM_BACKEND must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(env)}`);
}

/** lavapipe / SwiftShader from the adapter's description, else null (hardware or another software rasterizer). */
export function softwareAdapterOf(info: Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description' | 'isFallbackAdapter'>): SoftwareAdapter | null {
  if (classifyAdapter(info) !== 'software') return null;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (/llvmpipe|lavapipe/.test(text)) return 'lavapipe';
  if (/swiftshader/.test(text)) return 'swiftshader';
  return null;
}

export interface BackendDecision {
  backend: BackendKind;
  /** One line: why. */
  reason: string;
  /** Whether 'auto' fell back from WebGPU (the caller prints `reason` as a notice). */
  fallback: boolean;
}

export interface BackendProbe {
  /** The adapter found, or null with `error` saying why there is none. */
  adapter: AdapterSummary | null;
  error?: string;
  /** Running in Node (software adapters there are measured against wasm). */
  node: boolean;
  role: RuntimeRole;
  /** The caller passed its own GPUDevice. */
  external?: boolean;
}

/** The decision for `choice` given what the probe found (pure). */
export function decideBackend(choice: BackendChoice, probe: BackendProbe): BackendDecision {
  if (choice === 'wasm') return { backend: 'wasm', reason: 'backend: wasm was asked for', fallback: false };
  if (probe.external) return { backend: 'webgpu', reason: 'the caller passed a GPUDevice', fallback: false };
  if (!probe.adapter) {
    if (choice === 'webgpu') throw new BackendChoiceError(`backend: webgpu was asked for, but there is no WebGPU adapter (${probe.error ?? 'none found'})`);
    return { backend: 'wasm', reason: `no WebGPU adapter (${probe.error ?? 'none found'}): running on WebAssembly SIMD`, fallback: true };
  }
  const name = probe.adapter.description || probe.adapter.device || probe.adapter.vendor || 'adapter';
  if (choice === 'webgpu') return { backend: 'webgpu', reason: `backend: webgpu was asked for (${name})`, fallback: false };
  const sw = softwareAdapterOf(probe.adapter);
  if (probe.node && sw && WASM_FASTER_THAN[sw][probe.role]) {
    return { backend: 'wasm', reason: `the only WebGPU adapter is ${sw} (${name}), and wasm was measured faster on the ${probe.role}'s graphs: running on WebAssembly SIMD`, fallback: true };
  }
  return { backend: 'webgpu', reason: `WebGPU adapter ${name}${sw ? ` (${sw})` : ''}`, fallback: false };
}
