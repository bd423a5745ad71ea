/**
 * The reconnect delay of the list/watch loops (pod informer, Event informer): doubling from `initialMs` per
 * consecutive failure up to `maxMs`, with "equal jitter" (half fixed, half random) so that many agents
 * restarted together do not reconnect in step.
 *
 * @module
 */

/**
 * The delay before the next attempt after `failures` consecutive failures (1 or more).
 *
 * @example
 * ```ts
 * reconnectDelayMs(1, { initialMs: 250, maxMs: 30_000, random: () => 0.5 }); // 187.5
 * ```
 */
export function reconnectDelayMs(
  failures: number,
  options: { initialMs: number; maxMs: number; random: () => number },
): number {
  const capMs = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(failures - 1, 20));
  return capMs / 2 + (capMs / 2) * options.random();
}
