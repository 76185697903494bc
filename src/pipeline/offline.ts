import { ZoneAnalytics, type ZoneLayout, type ZoneOptions } from '../analytics/zones';
import { readVideoFile } from '../camera/ffmpeg';
import type { Detector, DetectOptions } from '../detection/detector';
import { CameraSchedule, validateScheduleOptions, type ScheduleOptions } from '../detection/schedule';
import { createTracker, type TrackerSettings } from '../tracking/trackers';
import type { DetectionInput, Track, Tracker } from '../tracking/track';
import type { Detection, RgbImage } from '../types';

/** The counts of a layout at the end of a recording: what `retail-analytics zones` and `run` print. */
export interface CountReport {
  zones: { id: string; currentCount: number; totalEntries: number; totalExits: number; avgDwellSeconds: number | null; peakCount: number }[];
  lines: { id: string; in: number; out: number }[];
}

/**
 * Ends the recording for a zone engine: occupancy as it was at the last frame, then every track still present
 * leaves (its exit and dwell counted at the last time it was seen).
 */
export function finishCounting(analytics: ZoneAnalytics): CountReport {
  const atLastFrame = analytics.stats();
  analytics.endAll();
  const final = analytics.stats();
  return {
    zones: final.zones.map((z, i) => ({
      id: z.id,
      currentCount: atLastFrame.zones[i].currentCount,
      totalEntries: z.totalEntries,
      totalExits: z.totalExits,
      avgDwellSeconds: z.avgDwellSeconds,
      peakCount: z.peakCount,
    })),
    lines: final.lines.map((l) => ({ id: l.id, in: l.in, out: l.out })),
  };
}

/**
 * Tracking and counting of a recording, one frame after the other, with the same engine the nodes run live.
 * Frame f (from 1) is dated (f − 1) / frameRate seconds.
 */
export class RecordingCounter {
  readonly tracker: Tracker;
  readonly analytics: ZoneAnalytics | null;
  private frame = 0;

  constructor(settings: TrackerSettings, private readonly frameRate: number, layout?: ZoneLayout, zoneOptions: Partial<ZoneOptions> = {}) {
    this.tracker = createTracker(settings);
    this.analytics = layout ? new ZoneAnalytics(layout, zoneOptions) : null;
  }

  /** Frames counted so far. */
  get frames(): number {
    return this.frame;
  }

  /** Capture time of the next frame, in ms from the first. */
  get nextTime(): number {
    return (this.frame / this.frameRate) * 1000;
  }

  /** A frame that was not detected (the detection rate, motion gating): time moves on, nothing is tracked. */
  skip(): void {
    this.frame++;
  }

  /** One frame's detections; returns the tracks the tracker reports in it. */
  next(detections: readonly DetectionInput[], frameSize?: { width: number; height: number }): Track[] {
    const at = (this.frame++ / this.frameRate) * 1000;
    const { tracks } = this.tracker.update(detections, at);
    this.analytics?.update(
      tracks.map((t) => ({ id: t.id, bbox: t.bbox, label: t.detection?.label ?? null, firstSeen: { bbox: t.firstBox, at: t.firstSeenAt } })),
      at,
      frameSize,
      this.frame,
    );
    return tracks;
  }

  /** The layout's counts, the recording ended (call once, after the last frame). */
  finish(): CountReport {
    return this.analytics ? finishCounting(this.analytics) : { zones: [], lines: [] };
  }
}

export interface VideoRunOptions {
  detector: Detector;
  detect: DetectOptions;
  counter: RecordingCounter;
  /** Which frames to detect, as yolo-detect chooses them; every frame when absent. */
  schedule?: ScheduleOptions;
  /** Frames per second to read the video at (FFmpeg resamples); every frame of the file when absent. */
  fps?: number;
  ffmpeg?: string;
  /** After each frame: its number (from 1), image, and its detections and reported tracks, or null when not detected. */
  onFrame?: (frame: number, image: RgbImage, result: { detections: readonly Detection[]; tracks: readonly Track[] } | null) => void | Promise<void>;
}

/** Detects, tracks and counts the frames of a video file the schedule chooses, as fast as the machine goes. */
export async function runVideo(file: string, options: VideoRunOptions): Promise<{ frames: number; detected: number }> {
  const { detector, detect, counter, onFrame } = options;
  const schedule = options.schedule ? new CameraSchedule(validateScheduleOptions(options.schedule)) : null;
  let detected = 0;
  for await (const image of readVideoFile(file, { fps: options.fps, ffmpeg: options.ffmpeg })) {
    if (schedule && schedule.decide(counter.nextTime, image, counter.analytics?.wantsFasterDetection) !== 'detect') {
      counter.skip();
      await onFrame?.(counter.frames, image, null);
      continue;
    }
    detected++;
    const { detections } = await detector.detect(image, detect);
    const tracks = counter.next(detections, { width: image.width, height: image.height });
    await onFrame?.(counter.frames, image, { detections, tracks });
  }
  return { frames: counter.frames, detected };
}
