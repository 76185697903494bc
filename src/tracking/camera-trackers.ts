import { createTracker, resolveTrackerSettings, type ResolvedTrackerSettings, type TrackerSettings } from './trackers';
import type { Track, Tracker } from './track';

/** One tracker per camera id, created on first use; a bounded number of cameras. */
export class CameraTrackers {
  private readonly trackers = new Map<string, Tracker>();
  readonly settings: ResolvedTrackerSettings;

  private readonly frameRateFromInput: boolean;
  readonly maxCameras: number;

  /**
   * With `frameRateFromInput`, a camera's ByteTrack runs at the frame rate given with the camera's first frame
   * (the settings' frame rate when none is given), so its lost buffer lasts the same time at any rate.
   */
  constructor(settings: TrackerSettings = { algorithm: 'sort' }, { frameRateFromInput = false, maxCameras = 256 } = {}) {
    this.settings = resolveTrackerSettings(settings);
    this.frameRateFromInput = frameRateFromInput;
    this.maxCameras = maxCameras;
  }

  get(cameraId: string, frameRate?: number): Tracker {
    let tracker = this.trackers.get(cameraId);
    if (!tracker) {
      if (this.trackers.size >= this.maxCameras) {
        throw new Error(`already tracking ${this.maxCameras} cameras; camera "${cameraId}" is one too many (check msg.frame.cameraId / msg.topic)`);
      }
      const rateGiven = this.frameRateFromInput && this.settings.algorithm === 'bytetrack' && frameRate !== undefined;
      tracker = createTracker(rateGiven ? { ...this.settings, frameRate } : this.settings);
      this.trackers.set(cameraId, tracker);
    }
    return tracker;
  }

  /** Clears one camera (or all when no id): returns the reported tracks that ended, by camera. */
  reset(cameraId?: string): Map<string, Track[]> {
    const ended = new Map<string, Track[]>();
    for (const [id, tracker] of this.trackers) {
      if (cameraId === undefined || id === cameraId) ended.set(id, tracker.reset());
    }
    return ended;
  }
}
