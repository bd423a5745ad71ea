/**
 * Per (job, rank) summaries of dataloader timings: count, sum and a histogram of data time and of
 * iteration time, and the input-bound ratio (data time over iteration time, over the steps that
 * printed both). Cumulative since the agent started; bounded by a series ceiling. Pure.
 *
 * @module
 */

import { BoundedSeries, OTHER } from "./bounded_series.ts";

/** Count, sum and per-bucket counts of one timing. */
export interface TimingSummary {
  count: number;
  sum: number;
  /** `bounds.length + 1` counts: (bound[i-1], bound[i]], the last above every bound. */
  bucketCounts: number[];
}

/** The summaries of one (job, rank). `job` and `rank` are `other` for the shared series. */
export interface RankSummary {
  readonly job: string;
  readonly rank: string;
  readonly dataTime: TimingSummary;
  readonly iterTime: TimingSummary;
  /** Sums over the steps that carried both timings; the ratio is their quotient. */
  readonly pairedDataSum: number;
  readonly pairedIterSum: number;
  /** pairedDataSum / pairedIterSum, or null before the first paired step (or with a zero sum). */
  readonly inputBoundRatio: number | null;
}

interface RankState {
  job: string;
  rank: string;
  dataTime: TimingSummary;
  iterTime: TimingSummary;
  pairedDataSum: number;
  pairedIterSum: number;
}

/** Options for {@linkcode TrainingSummaries}. */
export interface TrainingSummariesOptions {
  /** Upper bounds of the histogram buckets, ascending (seconds). */
  bounds: readonly number[];
  /** Most (job, rank) series; later ones share `other`. */
  maxSeries: number;
  /** Called per observation folded into `other`. @default nothing */
  onOverflow?: () => void;
}

/** The per (job, rank) summaries. */
export class TrainingSummaries {
  readonly bounds: readonly number[];
  #series: BoundedSeries<RankState>;

  constructor(options: TrainingSummariesOptions) {
    this.bounds = options.bounds;
    const buckets = options.bounds.length + 1;
    this.#series = new BoundedSeries<RankState>({
      maxSeries: options.maxSeries,
      onOverflow: options.onOverflow ?? (() => {}),
      create: (key, isOther) => {
        const nul = key.indexOf("\u0000");
        return {
          job: isOther ? OTHER : key.slice(0, nul),
          rank: isOther ? OTHER : key.slice(nul + 1),
          dataTime: emptyTiming(buckets),
          iterTime: emptyTiming(buckets),
          pairedDataSum: 0,
          pairedIterSum: 0,
        };
      },
    });
  }

  /** Adds one step's timings (either may be null) to the series of (job, rank). */
  observe(job: string, rank: string, dataTimeS: number | null, iterTimeS: number | null): void {
    const state = this.#series.get(`${job}\u0000${rank}`);
    if (dataTimeS !== null) this.#add(state.dataTime, dataTimeS);
    if (iterTimeS !== null) this.#add(state.iterTime, iterTimeS);
    if (dataTimeS !== null && iterTimeS !== null) {
      state.pairedDataSum += dataTimeS;
      state.pairedIterSum += iterTimeS;
    }
  }

  /** A copy of every series (own keys first, then `other`). */
  snapshot(): RankSummary[] {
    const out: RankSummary[] = [];
    for (const [, s] of this.#series.entries()) {
      out.push({
        job: s.job,
        rank: s.rank,
        dataTime: copyTiming(s.dataTime),
        iterTime: copyTiming(s.iterTime),
        pairedDataSum: s.pairedDataSum,
        pairedIterSum: s.pairedIterSum,
        inputBoundRatio: s.pairedIterSum > 0 ? s.pairedDataSum / s.pairedIterSum : null,
      });
    }
    return out;
  }

  #add(timing: TimingSummary, value: number): void {
    timing.count++;
    timing.sum += value;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]) i++;
    timing.bucketCounts[i]++;
  }
}

function emptyTiming(buckets: number): TimingSummary {
  return { count: 0, sum: 0, bucketCounts: new Array<number>(buckets).fill(0) };
}

function copyTiming(t: TimingSummary): TimingSummary {
  return { count: t.count, sum: t.sum, bucketCounts: [...t.bucketCounts] };
}
