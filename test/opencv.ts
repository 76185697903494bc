export type OpenCv = typeof import('@u4/opencv4nodejs').default;
export type Mat = import('@u4/opencv4nodejs').Mat;

/**
 * The OpenCV binding, a development dependency that serves the tests and benchmarks as the independent reference
 * for our imaging; null when it is not built. The runtime never loads it.
 */
export function loadOpenCv(): OpenCv | null {
  // Node 20 aborts ("Check failed: marking_done_") when the binding reports Mat memory to V8; Mats are released by hand.
  process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('@u4/opencv-build').Log.silence = true;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const binding = require('@u4/opencv4nodejs');
    return (binding.default ?? binding) as OpenCv;
  } catch {
    return null;
  }
}
