/**
 * Structured agent logs: one JSON object per line on stderr, bounded per reason so that a storm of
 * identical problems costs one line per interval, with a count of what was suppressed.
 *
 * @module
 */

/** Severity of an agent log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVEL_ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  /** Lowest level written. @default "info" */
  level?: LogLevel;
  /** Where lines go. @default a writer to stderr */
  write?: (line: string) => void;
  /** Minimum time between two lines with the same `key`. @default 60000 */
  repeatIntervalMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
}

/** Writes JSON log lines; `warnOnce`-style helpers keep repeated problems to one line per interval. */
export class Logger {
  #level: number;
  #write: (line: string) => void;
  #repeatIntervalMs: number;
  #now: () => number;
  #lastByKey = new Map<string, { atMs: number; suppressed: number }>();

  constructor(options: LoggerOptions = {}) {
    this.#level = LEVEL_ORDER[options.level ?? "info"];
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((line) => {
      try {
        Deno.stderr.writeSync(encoder.encode(line + "\n"));
      } catch {
        // stderr closed: nothing left to tell.
      }
    });
    this.#repeatIntervalMs = options.repeatIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  /** Writes one line at `level` with structured `fields`. */
  log(level: LogLevel, msg: string, fields: Record<string, unknown> = {}): void {
    if (LEVEL_ORDER[level] < this.#level) return;
    const line = { time: new Date(this.#now()).toISOString(), level, msg, ...fields };
    this.#write(JSON.stringify(line, jsonReplacer));
  }

  /** Like `log`, but at most once per `repeatIntervalMs` for the same `key`; counts what it held back. */
  limited(level: LogLevel, key: string, msg: string, fields: Record<string, unknown> = {}): void {
    const now = this.#now();
    const last = this.#lastByKey.get(key);
    if (last !== undefined && now - last.atMs < this.#repeatIntervalMs) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    if (this.#lastByKey.size > 10_000) this.#lastByKey.clear();
    this.#lastByKey.set(key, { atMs: now, suppressed: 0 });
    this.log(level, msg, suppressed > 0 ? { ...fields, suppressed } : fields);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log("error", msg, fields);
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  if (typeof value === "bigint") return value.toString();
  return value;
}

/** Normalizes any thrown value into an `Error` (the one place that does it). */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : JSON.stringify(thrown));
}
