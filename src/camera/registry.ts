import type { Camera } from './camera';

/** The cameras of this process by id, so the API can report their state without holding their nodes. */
const cameras = new Map<string, Camera>();

export const cameraRegistry = {
  add(camera: Camera): void {
    cameras.set(camera.id, camera);
  },
  remove(camera: Camera): void {
    if (cameras.get(camera.id) === camera) cameras.delete(camera.id);
  },
  get(id: string): Camera | undefined {
    return cameras.get(id);
  },
  list(): Camera[] {
    return [...cameras.values()];
  },
};
