import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { register as registerConvert } from '../../src/cli/convert.ts';
import { COCO_CLASS_NAMES } from '../../src/eval/coco-categories.ts';
import {
  ClassNamesError, classNamesOf, convertToSafetensors, defaultClassNames, detectorWeightsFromRaw, initHash, loadDetectorWeights,
  readCheckpoint, readSafetensors,
} from '../../src/model/weights/index.ts';
import { bytesOf, fixture } from './helpers.ts';

const EIGHT = ['circle', 'triangle', 'square', 'star', 'ring', 'cross', 'hexagon', 'crescent'];

describe('detector class names', () => {
  it('a pickle\'s top-level str list becomes metadata (protocols 2 and 4); bools too, nested dicts are ignored', () => {
    for (const p of [2, 4]) {
      const raw = readCheckpoint(bytesOf(fixture(`meta_p${p}.pkl`)));
      expect(raw.metadata).toEqual({ __author__: 'webvcm fixture', matching_heuristics: 'false', class_names: '["circle","triangle","square"]' });
    }
  });

  it('read from a Detectron2 pickle\'s class_names, validated against num_classes, carried into the .safetensors', async () => {
    await initHash();
    const names = COCO_CLASS_NAMES.map((n) => `x ${n}`); // det_p4 has 80 classes
    const raw = readCheckpoint(bytesOf(fixture('det_p4.pkl')));
    raw.metadata = { ...raw.metadata, class_names: JSON.stringify(names) };
    const w = detectorWeightsFromRaw(raw);
    expect(w.classNames).toEqual(names);
    expect(classNamesOf(w)).toEqual(names);
    const st = convertToSafetensors(w, '0'.repeat(64));
    expect(readSafetensors(st).metadata.class_names).toBe(JSON.stringify(names));
    const back = await loadDetectorWeights(st);
    expect(back.classNames).toEqual(names);
  });

  it('falls back to the COCO names for 80 classes, else class_<k>; the file without names has none stored', async () => {
    const w = await loadDetectorWeights(fixture('det_p4.pkl'));
    expect(w.classNames).toBeUndefined();
    expect(classNamesOf(w)).toEqual([...COCO_CLASS_NAMES]);
    expect(defaultClassNames(3)).toEqual(['class_0', 'class_1', 'class_2']);
    expect(classNamesOf({ config: { ...w.config, numClasses: 2 } })).toEqual(['class_0', 'class_1']);
    const st = convertToSafetensors(w, '0'.repeat(64));
    expect(readSafetensors(st).metadata.class_names).toBeUndefined();
  });

  it('wrong count, duplicates, non-strings and bad JSON are clear ClassNamesErrors', async () => {
    await initHash();
    const base = readCheckpoint(bytesOf(fixture('det_p4.pkl')));
    const tryNames = (v: string) => () => detectorWeightsFromRaw({ ...base, tensors: new Map(base.tensors), metadata: { class_names: v } });
    expect(tryNames(JSON.stringify(EIGHT))).toThrow(ClassNamesError);
    expect(tryNames(JSON.stringify(EIGHT))).toThrow(/lists 8 class name\(s\) but the detector has 80 classes/);
    const dup = [...COCO_CLASS_NAMES]; dup[5] = dup[0]!;
    expect(tryNames(JSON.stringify(dup))).toThrow(/classes 0 and 5 are both named 'person'/);
    expect(tryNames('[1,2]')).toThrow(/must be an array of strings/);
    expect(tryNames('circle,square')).toThrow(/not a JSON array of strings/);
    expect(tryNames('[]')).toThrow(expect.objectContaining({ code: 'CLASS_NAMES', name: 'ClassNamesError' }));
  });

  it('webvcm convert carries the names and reports them', async () => {
    await initHash();
    const dir = mkdtempSync(path.join(tmpdir(), 'webvcm-names-'));
    const names = COCO_CLASS_NAMES.map((_, i) => `c${i}`);
    const raw = readCheckpoint(bytesOf(fixture('det_p4.pkl')));
    raw.metadata = { class_names: JSON.stringify(names) };
    const src = path.join(dir, 'in.safetensors');
    writeFileSync(src, convertToSafetensors(detectorWeightsFromRaw(raw), '0'.repeat(64)));
    const out = path.join(dir, 'out.safetensors');
    const program = new Command().exitOverride();
    registerConvert(program);
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((printed += String(s)), true));
    try {
      await program.parseAsync(['node', 'webvcm', 'convert', src, '-o', out, '--json']);
    } finally {
      write.mockRestore();
    }
    expect(JSON.parse(printed).classNames).toEqual(names);
    expect((await loadDetectorWeights(new Uint8Array(readFileSync(out)))).classNames).toEqual(names);
  });
});
