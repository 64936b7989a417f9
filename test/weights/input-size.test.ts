/** The detector's trained input size travels in the checkpoint metadata (pickle → safetensors) and is validated. */
import { describe, expect, it } from 'vitest';
import { parseInputSize } from '../../src/model/weights/class-names.ts';
import { readCheckpoint } from '../../src/model/weights/checkpoint.ts';
import { loadDetectorWeights, convertToSafetensors } from '../../src/model/weights/load.ts';

describe('detector input size metadata', () => {
  it('parses both keys, none, and rejects bad values by name', () => {
    expect(parseInputSize({ input_min_size: '320', input_max_size: '544' })).toEqual({ minSize: 320, maxSize: 544 });
    expect(parseInputSize({})).toBeUndefined();
    expect(parseInputSize(undefined)).toBeUndefined();
    expect(() => parseInputSize({ input_min_size: '320' })).toThrow(/input_min_size=320 \/ input_max_size=undefined/);
    expect(() => parseInputSize({ input_min_size: '600', input_max_size: '544' })).toThrow(/min ≤ max/);
    expect(() => parseInputSize({ input_min_size: '-1', input_max_size: '544' })).toThrow(/positive integers/);
  });

  it('survives conversion to safetensors', async () => {
    const w = await loadDetectorWeights('weights/random/detector.safetensors');
    expect(w.inputSize).toBeUndefined();
    const bytes = convertToSafetensors({ ...w, inputSize: { minSize: 320, maxSize: 544 } }, 'test');
    expect(readCheckpoint(bytes).metadata?.input_min_size).toBe('320');
    const back = await loadDetectorWeights(bytes);
    expect(back.inputSize).toEqual({ minSize: 320, maxSize: 544 });
  });
});
