/**
 * Compares two MOT tracker outputs (text as printed by `retail-analytics track`) up to a one-to-one
 * relabelling of track ids: each frame must hold the same boxes, at the printed precision, and the ids must
 * correspond through one consistent bijection over the whole sequence.
 */
export interface MotComparison {
  equal: boolean;
  rows: number;
  problems: string[];
}

function rowsByFrame(text: string): Map<number, Map<string, number>> {
  const frames = new Map<number, Map<string, number>>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [frame, id, ...rest] = line.trim().split(',');
    const boxes = frames.get(Number(frame)) ?? new Map<string, number>();
    const box = rest.slice(0, 4).join(',');
    // Two tracks of one frame on the same box would make the relabelling ambiguous: keep both apart.
    boxes.set(boxes.has(box) ? `${box}#${id}` : box, Number(id));
    frames.set(Number(frame), boxes);
  }
  return frames;
}

export function compareMotOutputs(actual: string, expected: string, maxProblems = 10): MotComparison {
  const ours = rowsByFrame(actual);
  const theirs = rowsByFrame(expected);
  const problems: string[] = [];
  const report = (problem: string) => {
    if (problems.length < maxProblems) problems.push(problem);
  };
  const toTheirs = new Map<number, number>();
  const toOurs = new Map<number, number>();
  let rows = 0;
  let failures = 0;
  for (const frame of [...new Set([...ours.keys(), ...theirs.keys()])].sort((a, b) => a - b)) {
    const mine = ours.get(frame) ?? new Map<string, number>();
    const reference = theirs.get(frame) ?? new Map<string, number>();
    rows += reference.size;
    for (const [box, id] of reference) {
      const ourId = mine.get(box);
      if (ourId === undefined) {
        failures++;
        report(`frame ${frame}: expected track ${id} at ${box}, not in the output`);
        continue;
      }
      if ((toTheirs.get(ourId) ?? id) !== id || (toOurs.get(id) ?? ourId) !== ourId) {
        failures++;
        report(`frame ${frame}: box ${box} has id ${ourId}, which elsewhere corresponds to ${toTheirs.get(ourId)} (expected ${id})`);
      }
      toTheirs.set(ourId, id);
      toOurs.set(id, ourId);
    }
    for (const [box, id] of mine) {
      if (!reference.has(box)) {
        failures++;
        report(`frame ${frame}: unexpected track ${id} at ${box}`);
      }
    }
  }
  return { equal: failures === 0, rows, problems };
}
