/**
 * "Did you mean" for misspelt option keys, enum values and flags.
 *
 * @module
 */

/**
 * The candidate closest to `word`, or undefined when none is close. Case, `_` and `-` are ignored, and a
 * candidate whose last dotted segment matches is found too (`rotate_wait` -> `tail.rotate_wait`).
 *
 * @example
 * ```ts
 * closestMatch("tail.max_open_file", ["tail.max_open_files", "include"]); // "tail.max_open_files"
 * ```
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const wanted = normalize(word);
  const wantedLast = normalize(lastSegment(word));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const full = editDistance(wanted, normalize(candidate));
    const last = editDistance(wantedLast, normalize(lastSegment(candidate)));
    // A match on the last segment alone is a key put at the wrong level: rank it just behind a full match.
    const distance = Math.min(full, last + 0.5);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const allowed = Math.max(1, Math.floor(wanted.length / 4)) + 0.5;
  return bestDistance <= allowed ? best : undefined;
}

function normalize(text: string): string {
  return text.toLowerCase().replace(/[-_]/g, "");
}

function lastSegment(text: string): string {
  return text.slice(text.lastIndexOf(".") + 1);
}

// Edit distance counting an adjacent swap as one edit (optimal string alignment); inputs are short keys.
function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      let best = Math.min(previous[j] + 1, current[j - 1] + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, beforePrevious[j - 2] + 1);
      }
      current.push(best);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length];
}
