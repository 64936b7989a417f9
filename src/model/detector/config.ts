import { DetectorInputError } from './preprocess.ts';
import { DEFAULT_DETECTOR_CONFIG, type DetectorConfig } from './types.ts';

/** Defaults overridden by `over`, validated (typed DetectorInputError on nonsense values). */
export function resolveDetectorConfig(over: Partial<DetectorConfig> = {}): DetectorConfig {
  const cfg: DetectorConfig = { ...DEFAULT_DETECTOR_CONFIG, ...over };
  const posInt = (k: keyof DetectorConfig): void => {
    const v = cfg[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new DetectorInputError(`config ${k} must be a positive integer (got ${String(v)})`);
  };
  for (const k of [
    'minSize',
    'maxSize',
    'sizeDivisibility',
    'rpnPreNmsTopK',
    'rpnPostNmsTopK',
    'poolerResolution',
    'detectionsPerImage',
  ] as const)
    posInt(k);
  if (cfg.minSize > cfg.maxSize) throw new DetectorInputError(`config minSize ${cfg.minSize} exceeds maxSize ${cfg.maxSize}`);
  if (cfg.pixelMean.length !== 3 || !cfg.pixelMean.every(Number.isFinite))
    throw new DetectorInputError('config pixelMean must be 3 finite numbers (B, G, R)');
  for (const k of ['rpnNmsThresh', 'nmsThresh', 'scoreThresh'] as const) {
    if (!(cfg[k] >= 0 && cfg[k] <= 1)) throw new DetectorInputError(`config ${k} must be in [0, 1] (got ${cfg[k]})`);
  }
  return cfg;
}
