/** A camera's latest word from zone-analytics older than this no longer speeds its detection up. */
const STALE_MS = 2000;
const MAX_CAMERAS = 4096;

/**
 * Whether someone stood near a line or a zone's edge at each camera's latest counted frame, as zone-analytics
 * nodes report it, for the yolo-detect nodes of the same Node-RED to detect that camera faster meanwhile.
 */
class NearBoundaryRegistry {
  private readonly cameras = new Map<string, { near: boolean; at: number }>();

  report(cameraId: string, near: boolean, at: number): void {
    this.cameras.delete(cameraId);
    this.cameras.set(cameraId, { near, at });
    if (this.cameras.size > MAX_CAMERAS) this.cameras.delete(this.cameras.keys().next().value!);
  }

  /** Near a boundary at a frame counted within STALE_MS before `at` (a frame's capture time). */
  isNear(cameraId: string, at: number): boolean {
    const latest = this.cameras.get(cameraId);
    return latest !== undefined && latest.near && at - latest.at < STALE_MS;
  }

  forget(cameraId: string): void {
    this.cameras.delete(cameraId);
  }
}

export const nearBoundaries = new NearBoundaryRegistry();
