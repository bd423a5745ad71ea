/**
 * A small Prometheus registry: counters and gauges with labels, rendered in the text exposition format.
 * Hot paths hold a child (`counter.labels("x")`) so an increment is one property add.
 *
 * @module
 */

/** One labelled series of a metric. */
export interface Series {
  value: number;
}

/** What every metric in the registry can do. */
export interface Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge" | "histogram";
  /** Appends this metric's exposition lines. */
  render(out: string[]): void;
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** What every metric kind shares: a validated name, series keyed by label values, the text header. */
abstract class SeriesMetric<S> implements Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: Metric["type"];
  readonly #series = new Map<string, { labels: readonly string[]; state: S }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`Invalid metric name: ${name}`);
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  /** Removes the series with these label values (e.g. a container that is gone). */
  remove(...values: string[]): void {
    this.#series.delete(values.join("\u0000"));
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
    out.push(`# TYPE ${this.name} ${this.type}`);
    for (const { labels, state } of this.#series.values()) {
      const pairs = labels.map((v, i) => `${this.labelNames[i]}="${escapeLabelValue(v)}"`);
      this.renderSeries(out, pairs, state);
    }
  }

  /** The exposition lines of one series; `pairs` are its `name="value"` label pairs. */
  protected abstract renderSeries(out: string[], pairs: readonly string[], state: S): void;

  protected find(values: readonly string[]): S | undefined {
    return this.#series.get(values.join("\u0000"))?.state;
  }

  protected store(values: readonly string[], state: S): void {
    this.#series.set(values.join("\u0000"), { labels: values, state });
  }

  protected *states(): IterableIterator<S> {
    for (const entry of this.#series.values()) yield entry.state;
  }
}

abstract class LabelledMetric extends SeriesMetric<Series> {
  abstract override readonly type: "counter" | "gauge";

  constructor(name: string, help: string, labelNames: readonly string[]) {
    super(name, help, labelNames);
    if (labelNames.length === 0) this.labels();
  }

  /** The series for these label values (created at zero on first use). */
  labels(...values: string[]): Series {
    if (values.length !== this.labelNames.length) {
      throw new Error(
        `Metric ${this.name} expects ${this.labelNames.length} label values, got ${values.length}`,
      );
    }
    let series = this.find(values);
    if (series === undefined) {
      series = { value: 0 };
      this.store(values, series);
    }
    return series;
  }

  /** The current value of one series (0 when it was never touched). */
  get(...values: string[]): number {
    return this.find(values)?.value ?? 0;
  }

  /** Sum over every series. */
  total(): number {
    let sum = 0;
    for (const series of this.states()) sum += series.value;
    return sum;
  }

  protected renderSeries(out: string[], pairs: readonly string[], series: Series): void {
    const braces = pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
    out.push(`${this.name}${braces} ${formatNumber(series.value)}`);
  }
}

/** A monotonically increasing count. Names end in `_total`. */
export class Counter extends LabelledMetric {
  readonly type = "counter" as const;

  /** Adds `by` (default 1) to the series with these label values. */
  inc(by = 1, ...values: string[]): void {
    // `!(by >= 0)` also rejects NaN, which would otherwise stick in the series forever.
    if (!(by >= 0)) throw new Error(`Counter ${this.name} cannot add ${by}: counters only increase`);
    this.labels(...values).value += by;
  }
}

/** A value that goes up and down. */
export class Gauge extends LabelledMetric {
  readonly type = "gauge" as const;

  /** Sets the series with these label values. */
  set(value: number, ...values: string[]): void {
    this.labels(...values).value = value;
  }
}

/** The state of one histogram series: per-bucket (not cumulative) counts, then the +Inf bucket. */
export interface HistogramState {
  /** `bounds.length + 1` counts: observations in (bound[i-1], bound[i]], the last one above every bound. */
  readonly bucketCounts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/**
 * A labelled histogram whose series are set from a snapshot (the owner keeps the state and copies it
 * in before a render), so the same state can also be exported as OTLP.
 */
export class Histogram extends SeriesMetric<HistogramState> {
  readonly type = "histogram" as const;
  /** Upper bounds of the finite buckets, ascending. */
  readonly bounds: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(name, help, labelNames);
    if (labelNames.includes("le")) throw new Error(`Histogram ${name} cannot use the label le`);
    this.bounds = bounds;
  }

  /** Sets one series. @throws {Error} when the counts do not match the buckets */
  set(state: HistogramState, ...values: string[]): void {
    if (values.length !== this.labelNames.length || state.bucketCounts.length !== this.bounds.length + 1) {
      throw new Error(
        `Histogram ${this.name}: ${values.length} labels, ${state.bucketCounts.length} buckets`,
      );
    }
    this.store(values, state);
  }

  /** The state of one series, or undefined. */
  get(...values: string[]): HistogramState | undefined {
    return this.find(values);
  }

  protected renderSeries(out: string[], pairs: readonly string[], state: HistogramState): void {
    const prefix = pairs.length === 0 ? "" : pairs.join(",") + ",";
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += state.bucketCounts[i];
      const le = i < this.bounds.length ? formatNumber(this.bounds[i]) : "+Inf";
      out.push(`${this.name}_bucket{${prefix}le="${le}"} ${cumulative}`);
    }
    const braces = pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
    out.push(`${this.name}_sum${braces} ${formatNumber(state.sum)}`);
    out.push(`${this.name}_count${braces} ${state.count}`);
  }
}

/** Holds every metric of the agent and renders them for `/metrics`. */
export class MetricsRegistry {
  #metrics = new Map<string, Metric>();
  #collectors: Array<() => void> = [];

  /** Registers a counter; names must be unique. */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  /** Registers a gauge; names must be unique. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  /** Registers a histogram; names must be unique. */
  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, bounds));
  }

  /** Runs `collect` right before every render (for gauges read from elsewhere). */
  onCollect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  /** The Prometheus text exposition of every metric. */
  render(): string {
    for (const collect of this.#collectors) collect();
    const out: string[] = [];
    for (const metric of this.#metrics.values()) metric.render(out);
    return out.join("\n") + "\n";
  }

  /** Every registered metric, in registration order. */
  list(): Metric[] {
    return [...this.#metrics.values()];
  }

  #add<T extends Metric>(metric: T): T {
    if (this.#metrics.has(metric.name)) throw new Error(`Metric ${metric.name} is registered twice`);
    this.#metrics.set(metric.name, metric);
    return metric;
  }
}
