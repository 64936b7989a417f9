/**
 * Rate control for the variable-rate models: the gain that codes an analysed input at a target rate, by bisection on
 * the real coded size (8·(len(y) + len(z)) per pixel). The analysis transform ran once (HyperpriorCodec.analyse);
 * each candidate gain costs only h_s·gain → indexes, quantization and rANS.
 *
 * The rate grows with the gain (a larger gain is a finer quantizer). The search runs in log-gain between the model's
 * smallest and largest level gains: a target below the smallest level's rate or above the largest's gets that end
 * (the nearest achievable rate); otherwise bisection stops within `tolerance` (3 %) of the target, or after
 * `maxSteps`, keeping the closest result.
 */
import type { Tensor } from '../backend.ts';
import { CodecInputError, type Analysed, type CompressResult, type HyperpriorCodec } from './codec.ts';
import { VBR_ARCHITECTURES } from './registry.ts';

export interface RateSearch {
  targetBpp: number;
  /** The rate reached and the gain that reached it. */
  bpp: number;
  gain: number;
  /** |bpp − target| / target ≤ tolerance. */
  withinTolerance: boolean;
  /** 'below' / 'above': the target is outside what the model's levels reach; the nearest end was used. */
  clamped: 'below' | 'above' | null;
  /** How many gains were coded. */
  steps: number;
}

export const RATE_TOLERANCE = 0.03;

/** The rate options of the CLI and API, checked: a finite positive target; a fixed-rate model refuses. */
export function checkTargetBpp(architecture: string, vbr: boolean, targetBpp: unknown): number {
  if (!vbr) throw new CodecInputError(`${architecture} is a fixed-rate model: a target bitrate needs a variable-rate model (${VBR_ARCHITECTURES.join(', ')})`);
  if (typeof targetBpp !== 'number' || !Number.isFinite(targetBpp) || targetBpp <= 0) throw new CodecInputError(`target bpp ${String(targetBpp)} is not a finite positive number`);
  return targetBpp;
}

export async function findGain<T extends Tensor>(
  codec: HyperpriorCodec<T>, a: Analysed<T>, targetBpp: number, pixels: number,
  opts: { tolerance?: number; maxSteps?: number } = {},
): Promise<{ result: CompressResult; search: RateSearch }> {
  checkTargetBpp(codec.architecture, codec.spec.vbr, targetBpp);
  const tol = opts.tolerance ?? RATE_TOLERANCE, maxSteps = opts.maxSteps ?? 24;
  const gains = codec.gains;
  let steps = 0;
  const at = async (g: number) => {
    steps++;
    const result = await codec.code(a, Math.fround(g));
    return { result, bpp: (8 * (result.strings[0].length + result.strings[1].length)) / pixels };
  };
  const done = (r: { result: CompressResult; bpp: number }, clamped: RateSearch['clamped']) => ({
    result: r.result,
    search: { targetBpp, bpp: r.bpp, gain: r.result.gain, withinTolerance: Math.abs(r.bpp - targetBpp) <= tol * targetBpp, clamped, steps },
  });
  let lo = await at(Math.min(...gains));
  if (lo.bpp >= targetBpp * (1 - tol)) return done(lo, lo.bpp > targetBpp * (1 + tol) ? 'below' : null);
  let hi = await at(Math.max(...gains));
  if (hi.bpp <= targetBpp * (1 + tol)) return done(hi, hi.bpp < targetBpp * (1 - tol) ? 'above' : null);
  let best = Math.abs(lo.bpp - targetBpp) < Math.abs(hi.bpp - targetBpp) ? lo : hi;
  while (steps < maxSteps) {
    const g = Math.sqrt(lo.result.gain * hi.result.gain);
    if (Math.fround(g) === lo.result.gain || Math.fround(g) === hi.result.gain) break; // no float32 gain in between
    const m = await at(g);
    if (Math.abs(m.bpp - targetBpp) < Math.abs(best.bpp - targetBpp)) best = m;
    if (Math.abs(m.bpp - targetBpp) <= tol * targetBpp) break;
    if (m.bpp < targetBpp) lo = m;
    else hi = m;
  }
  return done(best, null);
}
