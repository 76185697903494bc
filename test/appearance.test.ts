import { strict as assert } from 'node:assert';
import { APPEARANCE_BINS, appearanceDistance, appearanceOf, isAppearance } from '../src/detection/appearance';
import type { Box, RgbImage } from '../src/types';

/** A 200 x 200 image of one colour, with an optional rectangle of another. */
function image(rgb: [number, number, number], patch?: { box: Box; rgb: [number, number, number] }): RgbImage {
  const pixels = new Uint8Array(200 * 200 * 3);
  for (let y = 0; y < 200; y++) {
    for (let x = 0; x < 200; x++) {
      const inPatch = patch && x >= patch.box[0] && x < patch.box[2] && y >= patch.box[1] && y < patch.box[3];
      pixels.set(inPatch ? patch.rgb : rgb, (y * 200 + x) * 3);
    }
  }
  return { pixels, width: 200, height: 200 };
}

describe('appearance (colour histograms of the upper body)', () => {
  const person: Box = [50, 20, 110, 180];

  it('is a histogram summing to 1: one hue bin for a coloured shirt, a grey bin for a grey one', () => {
    const red = appearanceOf(image([200, 20, 20]), person)!;
    assert.equal(red.length, APPEARANCE_BINS);
    assert.ok(Math.abs(red.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.equal(red.filter((v) => v > 0).length, 1);
    const grey = appearanceOf(image([128, 128, 128]), person)!;
    assert.equal(grey.filter((v) => v > 0).length, 1);
    assert.notDeepEqual(grey, red);
    assert.ok(isAppearance(red));
  });

  it('looks at the torso, not the legs or the background beside the person', () => {
    // Blue trousers (the lowest 40 % of the box) on a red shirt, green background: the same as an all-red person.
    const legs = image([20, 200, 20], { box: [50, 116, 110, 180], rgb: [20, 20, 200] });
    const shirt = image([20, 200, 20], { box: [50, 20, 110, 116], rgb: [200, 20, 20] });
    const both = image([200, 20, 20], { box: [50, 116, 110, 180], rgb: [20, 20, 200] });
    assert.equal(appearanceDistance(appearanceOf(both, person)!, appearanceOf(image([200, 20, 20]), person)!), 0);
    assert.equal(appearanceDistance(appearanceOf(legs, person)!, appearanceOf(shirt, person)!), 1);
  });

  it('measures 0 between the same colours and 1 between colours with nothing in common', () => {
    const red = appearanceOf(image([200, 20, 20]), person)!;
    const blue = appearanceOf(image([20, 20, 200]), person)!;
    assert.equal(appearanceDistance(red, red), 0);
    assert.equal(appearanceDistance(red, blue), 1);
  });

  it('gives null for a box mostly outside the image, and refuses malformed histograms from messages', () => {
    assert.equal(appearanceOf(image([1, 2, 3]), [-500, -500, -400, -300]), null);
    assert.ok(appearanceOf(image([1, 2, 3]), [-50, 10, 60, 120]), 'partly inside is enough');
    for (const bad of [null, 'red', [0.5, 0.5], new Array(APPEARANCE_BINS).fill(Number.NaN), new Array(APPEARANCE_BINS).fill(2), { length: APPEARANCE_BINS }]) {
      assert.equal(isAppearance(bad), false, JSON.stringify(bad));
    }
  });
});
