import type * as OpenCV from '@u4/opencv4nodejs';

export type CV = typeof OpenCV.default;
export type Mat = OpenCV.Mat;

let loaded: CV | undefined;

/**
 * Loads the OpenCV binding on first use, so that a machine without it still loads our nodes and shows a
 * clear error instead of failing at Node-RED start-up.
 */
export function opencv(): CV {
  if (loaded) return loaded;
  // Node 20 aborts ("Check failed: marking_done_") when the binding reports Mat memory to V8 while
  // frames are read; we release every Mat ourselves instead.
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@u4/opencv-build').Log.silence = true;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require('@u4/opencv4nodejs');
    loaded = (binding.default ?? binding) as CV;
  } catch (err) {
    throw new Error(
      `the OpenCV binding (@u4/opencv4nodejs) is not built: ${(err as Error).message.split('\n')[0]}. ` +
        'Run "npm run setup" (it installs libopencv-dev and builds the binding against it).',
    );
  }
  return loaded;
}

/** Runs `use` on a Mat and releases the Mat afterwards, whatever happens. */
export function withMat<T>(mat: Mat, use: (mat: Mat) => T): T {
  try {
    return use(mat);
  } finally {
    mat.release();
  }
}
