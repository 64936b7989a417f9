/**
 * WebGPU device acquisition for the browser (navigator.gpu) and Node (npm `webgpu`, Dawn).
 *
 * Node adapter choice without configuration: lavapipe (Mesa 25, installed by tools/setup.sh into .cache/lavapipe),
 * else SwiftShader from Debian's chromium, else whatever Vulkan ICD the system has (a real GPU).
 * Override with `opts.adapter` or the environment variable WEBVCM_ADAPTER = lavapipe | swiftshader | system,
 * or point WEBVCM_VK_ICD / VK_ICD_FILENAMES at an ICD json yourself.
 */
import { GpuDeviceLostError, GpuUnavailableError } from './errors.ts';

export type AdapterChoice = 'auto' | 'lavapipe' | 'swiftshader' | 'system';
export const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];
export const SETUP_FIX = 'npm run setup   (installs chromium + libvulkan1 and lavapipe 25 into .cache/lavapipe)';

export interface AcquireOptions {
  /** Use the caller's device (library embedding). Nothing is created and `dispose()` leaves it alone. */
  device?: GPUDevice;
  adapter?: AdapterChoice;
  powerPreference?: GPUPowerPreference;
  /** Extra Dawn toggles for Node, e.g. 'enable-dawn-features=disable_robustness'. */
  dawnFlags?: string[];
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  backend: 'node-dawn' | 'browser' | 'external';
  icd?: string;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter?: GPUAdapter;
  info: AdapterSummary;
  features: string[];
  owned: boolean;
  /** Node only: wrap long awaits so Dawn's busy poll does not starve the software driver. */
  release(): void;
}

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

/** Dawn instances to try in order (memoised), and the ICD list the Vulkan loader was given. */
interface NodeGpu {
  tries: (() => GPU)[];
  icd?: string;
}
let nodeGpuPromise: Promise<NodeGpu> | undefined;

async function exists(path: string): Promise<boolean> {
  const spec = 'node:fs';
  const fs = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as typeof import('node:fs');
  return fs.existsSync(path);
}

/** Candidate ICD json files in priority order for `choice` (pure apart from file-existence checks). */
export async function nodeIcdCandidates(choice: AdapterChoice, projectRoot: string): Promise<{ name: string; icd: string }[]> {
  const lvp = { name: 'lavapipe', icd: `${projectRoot}/.cache/lavapipe/lvp_icd.json` };
  const ss = { name: 'swiftshader', icd: '/usr/lib/chromium/vk_swiftshader_icd.json' };
  const list = choice === 'lavapipe' ? [lvp] : choice === 'swiftshader' ? [ss] : choice === 'system' ? [] : [lvp, ss];
  const out: { name: string; icd: string }[] = [];
  for (const c of list) if (await exists(c.icd)) out.push(c);
  return out;
}

/** Whether an ICD list (VK_ICD_FILENAMES) should be opened asking for llvmpipe by name: lavapipe first of several. */
export function preferLavapipeFor(icdList: string): boolean {
  const list = icdList.split(':').filter(Boolean);
  return list.length > 1 && /lvp_icd[^/]*\.json$/.test(list[0]!);
}

function projectRootFromHere(): string {
  const here = new URL('../../', import.meta.url);
  return decodeURIComponent(here.pathname).replace(/\/$/, '');
}

async function nodeGpu(opts: AcquireOptions): Promise<NodeGpu> {
  if (nodeGpuPromise) return nodeGpuPromise;
  nodeGpuPromise = (async () => {
    const choice = (opts.adapter ?? (process.env.WEBVCM_ADAPTER as AdapterChoice | undefined) ?? 'auto') as AdapterChoice;
    if (!['auto', 'lavapipe', 'swiftshader', 'system'].includes(choice)) {
      throw new GpuUnavailableError(`unknown adapter choice '${choice}'`, 'use one of auto, lavapipe, swiftshader, system');
    }
    let icd: string | undefined = process.env.WEBVCM_VK_ICD || undefined;
    let preferLavapipe = false;
    if (!icd && !process.env.VK_ICD_FILENAMES) {
      const cands = await nodeIcdCandidates(choice, projectRootFromHere());
      if (cands.length === 0 && choice !== 'auto' && choice !== 'system') {
        throw new GpuUnavailableError(`adapter '${choice}' requested but its Vulkan driver is not installed`, SETUP_FIX);
      }
      // With both drivers listed the loader would hand Dawn SwiftShader first: ask for llvmpipe by name, and fall
      // back to the whole list if lavapipe cannot load on this machine.
      if (cands.length) icd = cands.map((c) => c.icd).join(':');
      preferLavapipe = cands.length > 1 && cands[0]!.name === 'lavapipe';
    } else if (!icd && (choice === 'auto' || choice === 'lavapipe')) {
      // A list set by a parent webvcm process (child processes inherit the env this function writes below): the
      // loader would again hand Dawn SwiftShader first, so keep asking for llvmpipe when lavapipe leads the list.
      preferLavapipe = preferLavapipeFor(process.env.VK_ICD_FILENAMES ?? '');
    }
    // The Vulkan loader reads these when Dawn creates its instance, i.e. inside create() below.
    if (icd) process.env.VK_ICD_FILENAMES = icd;
    process.env.XDG_RUNTIME_DIR ??= '/tmp';
    let mod: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      const spec = 'webgpu'; // a variable, so browser bundlers leave Dawn out
      mod = await import(/* @vite-ignore */ /* webpackIgnore: true */ spec);
    } catch (e) {
      throw new GpuUnavailableError(`the 'webgpu' npm package (Dawn for Node) could not be loaded: ${(e as Error).message}`, 'npm ci');
    }
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    const flags = [...(opts.dawnFlags ?? [])];
    const once = (f: string[]): (() => GPU) => {
      let g: GPU | undefined;
      return () => (g ??= mod.create(f));
    };
    const tries = preferLavapipe ? [once(['adapter=llvmpipe', ...flags]), once(flags)] : [once(flags)];
    return { tries, icd: icd ?? process.env.VK_ICD_FILENAMES };
  })();
  try {
    return await nodeGpuPromise;
  } catch (e) {
    nodeGpuPromise = undefined;
    throw e;
  }
}

// --- Dawn busy-spin work-around --------------------------------------------------------------------------------
// Dawn's Node binding polls with setImmediate while a GPU promise is pending, burning a core that the software
// Vulkan driver needs. While any GPU wait is in flight we route setImmediate through setTimeout(…, 1).
let spinDepth = 0;
let savedSetImmediate: typeof setImmediate | undefined;
export function beginGpuWait(): () => void {
  if (!isNode) return () => {};
  if (spinDepth++ === 0) {
    savedSetImmediate = globalThis.setImmediate;
    const shim = ((fn: (...a: unknown[]) => void, ...args: unknown[]) => setTimeout(fn, 1, ...args)) as unknown as typeof setImmediate;
    globalThis.setImmediate = shim;
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--spinDepth === 0 && savedSetImmediate) globalThis.setImmediate = savedSetImmediate;
  };
}

/** Await a GPU promise with the busy-spin work-around active. */
export async function gpuWait<T>(p: Promise<T>): Promise<T> {
  const end = beginGpuWait();
  try {
    return await p;
  } finally {
    end();
  }
}

function summarize(adapter: GPUAdapter | undefined, backend: AdapterSummary['backend'], icd?: string, device?: GPUDevice): AdapterSummary {
  const info = (adapter?.info ?? (device as unknown as { adapterInfo?: GPUAdapterInfo })?.adapterInfo) as
    (GPUAdapterInfo & { isFallbackAdapter?: boolean }) | undefined;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    device: info?.device ?? '',
    description: info?.description ?? '',
    isFallbackAdapter: !!(info?.isFallbackAdapter ?? (adapter as unknown as { isFallbackAdapter?: boolean })?.isFallbackAdapter),
    backend,
    icd,
  };
}

/** Acquire a device with the adapter's real limits and every optional feature it has. */
export async function acquireDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  if (opts.device) {
    const d = opts.device;
    return { device: d, info: summarize(undefined, 'external', undefined, d), features: [...d.features], owned: false, release() {} };
  }
  let tries: (() => GPU)[];
  let icd: string | undefined;
  let backend: AdapterSummary['backend'];
  if (typeof navigator !== 'undefined' && (navigator as Navigator).gpu && !isNode) {
    tries = [() => navigator.gpu];
    backend = 'browser';
  } else if (isNode) {
    ({ tries, icd } = await nodeGpu(opts));
    backend = 'node-dawn';
  } else {
    throw new GpuUnavailableError(
      'this browser has no WebGPU (navigator.gpu is undefined)',
      'use a recent Chrome/Edge, or Chromium with --enable-unsafe-webgpu',
    );
  }
  let adapter: GPUAdapter | null = null;
  const failures: string[] = [];
  for (const gpu of tries) {
    try {
      adapter = await gpuWait(gpu().requestAdapter({ powerPreference: opts.powerPreference }));
    } catch (e) {
      failures.push((e as Error).message.split('\n')[0]!); // Dawn throws when a named adapter is missing
    }
    if (adapter) break;
  }
  if (!adapter) {
    throw new GpuUnavailableError(
      `no WebGPU adapter found${icd ? ` (Vulkan ICD: ${icd})` : ''}${failures.length ? ` [${failures.join('; ')}]` : ''}`,
      isNode ? SETUP_FIX : 'enable WebGPU (chrome://flags/#enable-unsafe-webgpu) or use a GPU-capable browser',
    );
  }
  const features = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const k of [
    'maxStorageBufferBindingSize',
    'maxBufferSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ',
    'maxComputeWorkgroupsPerDimension',
    'maxStorageBuffersPerShaderStage',
    'maxUniformBufferBindingSize',
    'maxBindingsPerBindGroup',
  ]) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await gpuWait(adapter.requestDevice({ requiredFeatures: features, requiredLimits }));
  return {
    device,
    adapter,
    info: summarize(adapter, backend, icd),
    features: [...device.features],
    owned: true,
    release() {
      device.destroy();
    },
  };
}

/** Turns device loss (including a caller destroying a device it lent us) into a typed error for the next use. */
export function watchDeviceLoss(device: GPUDevice, onLost: (e: GpuDeviceLostError) => void): void {
  device.lost.then(
    (info) => {
      const detail = info.reason === 'destroyed' ? 'GPUDevice.destroy() was called on it' : info.message || 'no detail';
      onLost(new GpuDeviceLostError(info.reason ?? 'unknown', detail));
    },
    () => {},
  );
}
