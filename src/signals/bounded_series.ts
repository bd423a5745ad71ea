/**
 * A map of per-key series with a ceiling: the first `maxSeries` keys get their own series, later keys
 * share one `other` series and each observation folded into it is counted.
 *
 * @module
 */

/** The label value of the shared series beyond the ceiling. */
export const OTHER = "other";

/** Options for {@linkcode BoundedSeries}. */
export interface BoundedSeriesOptions<T> {
  /** Most keys with their own series. */
  maxSeries: number;
  /** Creates the state of a new series. */
  create: (key: string, isOther: boolean) => T;
  /** Called once per observation folded into `other`. */
  onOverflow: () => void;
}

/** Per-key state bounded by a ceiling. */
export class BoundedSeries<T> {
  #entries = new Map<string, T>();
  #other: T | null = null;
  #options: BoundedSeriesOptions<T>;

  constructor(options: BoundedSeriesOptions<T>) {
    if (!Number.isInteger(options.maxSeries) || options.maxSeries < 1) {
      throw new Error(`Series ceiling must be a positive integer, got ${options.maxSeries}`);
    }
    this.#options = options;
  }

  /** The state of `key`: its own while under the ceiling (or already known), else the shared one. */
  get(key: string): T {
    const entry = this.#entries.get(key);
    if (entry !== undefined) return entry;
    if (this.#entries.size < this.#options.maxSeries) {
      const created = this.#options.create(key, false);
      this.#entries.set(key, created);
      return created;
    }
    this.#options.onOverflow();
    this.#other ??= this.#options.create(OTHER, true);
    return this.#other;
  }

  /** Frees the series of `key` (a container gone idle), making room for another key. */
  delete(key: string): void {
    this.#entries.delete(key);
  }

  /** Every series with its own key, then `other` when something was folded into it. */
  *entries(): IterableIterator<[key: string, state: T, isOther: boolean]> {
    for (const [key, state] of this.#entries) yield [key, state, false];
    if (this.#other !== null) yield [OTHER, this.#other, true];
  }

  /** Keys with their own series. */
  get size(): number {
    return this.#entries.size;
  }
}
