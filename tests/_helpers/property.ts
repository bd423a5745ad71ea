/**
 * Runs fast-check properties with a seed that is printed on failure and can be pinned with FC_SEED.
 *
 * @module
 */

import fc from "fast-check";

/** Asserts `property`; a failure names the seed to replay it with (`FC_SEED=<seed>`). */
export function assertProperty<T>(property: fc.IProperty<T>, numRuns = 500): void {
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  try {
    fc.assert(property, { seed, numRuns });
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
}
