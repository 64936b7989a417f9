/**
 * CompressAI's hyperprior codec family by CompressAI's own model names (compressai.zoo / @register_model), and the
 * pure rule that recognises one from a state dict's keys and shapes (for any C, N and M). The graph
 * (src/model/codec/graph.ts) and the codec (codec.ts) read only the flags below, so a family member is one entry here.
 *
 * | name                     | CompressAI class         | h_a input, activation | h_s output            | rate     |
 * |--------------------------|--------------------------|-----------------------|-----------------------|----------|
 * | bmshj2018-hyperprior     | ScaleHyperprior          | abs(y), ReLU          | M scales (ReLU)       | fixed    |
 * | mbt2018-mean             | MeanScaleHyperprior      | y, LeakyReLU          | 2M: scales, then means| fixed    |
 * | bmshj2018-hyperprior-vbr | ScaleHyperpriorVbr       | abs(y), ReLU          | M scales (ReLU)       | variable |
 * | mbt2018-mean-vbr         | MeanScaleHyperpriorVbr   | y, LeakyReLU          | 2M: scales, then means| variable |
 *
 * Variable rate (CompressAI's stage 2 with the default EntropyBottleneck): a gain g (Gain[s] for a level s, or any
 * positive scale), y·g quantized around means·g, indexes from scales·g, reconstruction offsets from the QuantABCD MLP.
 */
export const CODEC_ARCHITECTURES = ['bmshj2018-hyperprior', 'mbt2018-mean', 'bmshj2018-hyperprior-vbr', 'mbt2018-mean-vbr'] as const;
export type CodecArchitecture = (typeof CODEC_ARCHITECTURES)[number];

export interface CodecModelSpec {
  name: CodecArchitecture;
  /** The CompressAI class (compressai/models/google.py, vbr.py). */
  compressai: string;
  /** Mean-scale hyperprior: h_a on y (no abs), LeakyReLU in h_a and h_s (portable mode: portable.ts's integer
   * LeakyReLU), h_s gives scales then means. */
  meanScale: boolean;
  /** Variable rate: Gain, QuantABCD, y·gain. */
  vbr: boolean;
}

export const CODEC_MODELS: Readonly<Record<CodecArchitecture, CodecModelSpec>> = {
  'bmshj2018-hyperprior': { name: 'bmshj2018-hyperprior', compressai: 'ScaleHyperprior', meanScale: false, vbr: false },
  'mbt2018-mean': { name: 'mbt2018-mean', compressai: 'MeanScaleHyperprior', meanScale: true, vbr: false },
  'bmshj2018-hyperprior-vbr': { name: 'bmshj2018-hyperprior-vbr', compressai: 'ScaleHyperpriorVbr', meanScale: false, vbr: true },
  'mbt2018-mean-vbr': { name: 'mbt2018-mean-vbr', compressai: 'MeanScaleHyperpriorVbr', meanScale: true, vbr: true },
};

/** The variable-rate names, for messages ("use one of …"). */
export const VBR_ARCHITECTURES: readonly CodecArchitecture[] = CODEC_ARCHITECTURES.filter((a) => CODEC_MODELS[a].vbr);

export function isCodecArchitecture(v: unknown): v is CodecArchitecture {
  return typeof v === 'string' && (CODEC_ARCHITECTURES as readonly string[]).includes(v);
}

/**
 * Which family member a state dict holds, from its keys and shapes alone:
 * - mean-scale when h_s's last conv has twice as many outputs as y has channels (`h_s.4.weight` [2M, ·, 3, 3],
 *   M from `g_a.6.weight` [M, N, 5, 5]); the scale hyperprior's has M;
 * - variable rate when the state dict carries `Gain` and the `QuantABCD` MLP.
 * Returns null when `g_a.6.weight` or `h_s.4.weight` is missing (the loader then lists what is missing).
 */
export function recognizeArchitecture(shapeOf: (name: string) => readonly number[] | undefined): CodecArchitecture | null {
  const ga6 = shapeOf('g_a.6.weight'), hs4 = shapeOf('h_s.4.weight');
  if (!ga6 || !hs4 || ga6.length !== 4 || hs4.length !== 4) return null;
  const meanScale = hs4[0] === 2 * ga6[0]!;
  const vbr = shapeOf('Gain') !== undefined || shapeOf('QuantABCD.0.weight') !== undefined;
  return meanScale ? (vbr ? 'mbt2018-mean-vbr' : 'mbt2018-mean') : vbr ? 'bmshj2018-hyperprior-vbr' : 'bmshj2018-hyperprior';
}
