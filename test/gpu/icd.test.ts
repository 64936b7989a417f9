// Which Vulkan driver a Node process opens when its parent (a webvcm process) already wrote VK_ICD_FILENAMES:
// lavapipe leading a list of several → ask Dawn for llvmpipe by name (the loader would give SwiftShader first).
import { expect, it } from 'vitest';
import { preferLavapipeFor } from '../../src/gpu/device.ts';

it('an inherited ICD list led by lavapipe keeps lavapipe; anything else is left to the loader', () => {
  const lvp = '/p/.cache/lavapipe/lvp_icd.json',
    ss = '/usr/lib/chromium/vk_swiftshader_icd.json';
  expect(preferLavapipeFor(`${lvp}:${ss}`)).toBe(true);
  expect(preferLavapipeFor(lvp)).toBe(false); // only one driver: nothing to choose
  expect(preferLavapipeFor(`${ss}:${lvp}`)).toBe(false); // the user put SwiftShader first
  expect(preferLavapipeFor('')).toBe(false);
  expect(preferLavapipeFor(`${lvp}::${ss}`)).toBe(true);
});
