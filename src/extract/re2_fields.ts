/**
 * Named captures from log bodies with RE2 (npm `re2-wasm`), made safe for a long-running agent.
 *
 * re2-wasm runs in a fixed 16 MiB wasm heap: compiled patterns are never freed, an input of a few MB
 * aborts the engine (and each abort leaks heap, so later inputs abort sooner), and each call copies the
 * input into wasm memory (2.5-4 us for a 200 B line, against ~50 ns for a JS RegExp). So patterns are
 * compiled once at startup, every input is cut to `maxInputBytes` before it reaches the engine, and a
 * literal pre-filter derived from the pattern keeps lines that cannot match away from it. Patterns in a
 * small subset where a JS RegExp provably matches the same and in linear time (the default rank
 * pattern is one) run on the JS engine instead; RE2 still validates them at startup.
 *
 * @module
 */

import type { RE2 } from "re2-wasm";
import type { AgentMetrics } from "../telemetry/agent_metrics.ts";
import { toError } from "../telemetry/log.ts";
import { ByteSearch } from "./_byte_search.ts";
import {
  derivePrefilter,
  linearJsEquivalent,
  type LiteralPrefilter,
  scanGroupNames,
} from "./_re2_pattern.ts";

export type { LiteralPrefilter };

/** Why a pattern was rejected at startup. */
export type Re2CompileFailure = "too_long" | "syntax" | "missing_group" | "engine_error" | "bad_input_cap";

/** A pattern that cannot be used; thrown at startup, where it becomes a startup error. */
export class Re2CompileError extends Error {
  override name = "Re2CompileError";
  readonly reason: Re2CompileFailure;
  readonly pattern: string;

  constructor(reason: Re2CompileFailure, pattern: string, detail: string, options?: { cause?: unknown }) {
    super(`Invalid RE2 pattern /${pattern}/: ${detail}`, options);
    this.reason = reason;
    this.pattern = pattern;
  }
}

/** Options for {@linkcode Re2Fields.compile}. */
export interface Re2FieldsOptions {
  /** Inputs are cut to this many UTF-8 bytes (never splitting a character) before RE2 sees them. */
  maxInputBytes: number;
  /** Named groups the pattern must have. @default [] */
  requiredGroups?: readonly string[];
  /** Longest pattern accepted. @default 1024 */
  maxPatternChars?: number;
  /**
   * `auto` runs patterns of a small linear-time subset (see {@linkcode Re2Fields.engine}) on the JS
   * engine, which gives the same matches ~30x faster; `re2` always uses RE2. @default "auto"
   */
  engine?: "auto" | "re2";
  /**
   * A JS RegExp known to match exactly like `pattern` and in linear time, for a pattern outside the
   * subset the static analysis recognises (the default dataloader patterns; their equivalence is
   * checked against RE2 by a property test). Used when `engine` is `auto`. @default none
   */
  jsEquivalent?: RegExp;
  metrics: Pick<AgentMetrics, "re2Calls" | "re2InputsCapped" | "re2Failures">;
}

/**
 * The RE2 constructor, loaded on demand: importing re2-wasm reserves its fixed 16 MiB WebAssembly heap (about
 * +21 MiB RSS), which a run whose patterns all take the JS path never needs.
 */
let re2Engine: typeof RE2 | null = null;

/**
 * Loads the RE2 engine. Call once at startup, before compiling a pattern that needs it (see
 * {@linkcode patternNeedsRe2}) or to validate every pattern with RE2 (`--check-config`).
 */
export async function loadRe2Engine(): Promise<void> {
  re2Engine ??= (await import("re2-wasm")).RE2;
}

/**
 * Whether `pattern` needs the RE2 engine at run time: false when a JS RegExp provably matches the same in
 * linear time (the subset {@linkcode Re2Fields.engine} describes) or `hasJsEquivalent` says one is known.
 */
export function patternNeedsRe2(pattern: string, hasJsEquivalent = false): boolean {
  return !hasJsEquivalent && linearJsEquivalent(pattern) === null;
}

// Upper bound for maxInputBytes: far below the input size (~6 MB) that aborts the engine.
const MAX_RE2_INPUT_BYTES = 1024 * 1024;
const NO_GROUPS: Readonly<Record<string, string>> = Object.freeze({});

/** One compiled pattern with its pre-filter and input cap. */
export class Re2Fields {
  /** The pattern as configured. */
  readonly pattern: string;
  /** Named groups of the pattern, in order. */
  readonly groupNames: readonly string[];
  /** The literal pre-filter, or null when none could be derived (every input goes to the engine). */
  readonly prefilter: LiteralPrefilter | null;
  /**
   * Which engine matches: `js` when the pattern is anchored and built only from literals, groups of
   * literal alternatives and `\d` runs that end at a non-digit literal (so both engines agree and a
   * backtracking engine stays linear, e.g. the default rank pattern); `re2` otherwise. RE2 still
   * compiles and validates every pattern.
   */
  readonly engine: "re2" | "js";
  /** Null only when the JS engine serves the pattern and RE2 was never loaded. */
  #re: RE2 | null;
  #js: RegExp | null;
  #maxInputBytes: number;
  /** The pre-filter's literals as UTF-8, for {@linkcode Re2Fields.mayMatchBytes}. */
  #literalBytes: readonly Uint8Array[];
  #search = new ByteSearch();
  #scratch: Uint8Array;
  #encoder = new TextEncoder();
  #metrics: Re2FieldsOptions["metrics"];

  private constructor(
    pattern: string,
    engines: { re: RE2 | null; js: RegExp | null },
    groupNames: string[],
    options: Re2FieldsOptions,
  ) {
    this.pattern = pattern;
    this.groupNames = groupNames;
    this.prefilter = derivePrefilter(pattern);
    const encoder = new TextEncoder();
    this.#literalBytes = this.prefilter?.literals.map((l) => encoder.encode(l)) ?? [];
    this.#re = engines.re;
    this.#js = engines.js;
    this.engine = this.#js === null ? "re2" : "js";
    this.#maxInputBytes = options.maxInputBytes;
    this.#scratch = new Uint8Array(options.maxInputBytes);
    this.#metrics = options.metrics;
  }

  /**
   * Compiles `pattern` once. Call at startup only: the engine never frees a compiled pattern. When RE2 is
   * loaded ({@linkcode loadRe2Engine}) every pattern is validated by it; when it is not, a pattern the JS
   * engine serves is accepted without it and any other pattern is refused (`engine_error`).
   * @throws {Re2CompileError} when the pattern is too long, does not compile, or lacks a required group
   * @example
   * ```ts
   * const rank = Re2Fields.compile(String.raw`^\[rank(?P<rank>\d+)\]:`, { maxInputBytes: 4096, metrics });
   * rank.exec("[rank3]: loss=0.1"); // { rank: "3" }
   * ```
   */
  static compile(pattern: string, options: Re2FieldsOptions): Re2Fields {
    const maxChars = options.maxPatternChars ?? 1024;
    if (pattern.length > maxChars) {
      throw new Re2CompileError("too_long", pattern.slice(0, 64), `longer than ${maxChars} characters`);
    }
    const cap = options.maxInputBytes;
    if (!Number.isInteger(cap) || cap < 1 || cap > MAX_RE2_INPUT_BYTES) {
      throw new Re2CompileError(
        "bad_input_cap",
        pattern,
        `input cap must be 1..${MAX_RE2_INPUT_BYTES} bytes, got ${cap}`,
      );
    }
    const js = options.engine === "re2" ? null : options.jsEquivalent ?? linearJsEquivalent(pattern);
    const re = js !== null && re2Engine === null ? null : compileEngine(pattern);
    const groupNames = scanGroupNames(pattern);
    for (const group of options.requiredGroups ?? []) {
      if (!groupNames.includes(group)) {
        throw new Re2CompileError(
          "missing_group",
          pattern,
          `needs a named group ${group}, like (?P<${group}>\\d+)`,
        );
      }
    }
    return new Re2Fields(pattern, { re, js }, groupNames, options);
  }

  /** The pre-filter alone: false means the pattern cannot match `input`. */
  mayMatch(input: string): boolean {
    const filter = this.prefilter;
    if (filter === null) return true;
    const literals = filter.literals;
    for (let i = 0; i < literals.length; i++) {
      if (filter.isAnchored ? input.startsWith(literals[i]) : input.includes(literals[i])) return true;
    }
    return false;
  }

  /**
   * The pre-filter on a body still in UTF-8 bytes (issue 9 "bytes in"): false means the pattern cannot match,
   * so the body need not be decoded. An anchored literal is compared at position 0 only.
   */
  mayMatchBytes(body: Uint8Array): boolean {
    const filter = this.prefilter;
    if (filter === null) return true;
    const literals = this.#literalBytes;
    for (let i = 0; i < literals.length; i++) {
      const literal = literals[i];
      if (literal.length === 0) return true;
      if (filter.isAnchored ? startsWithBytes(body, literal) : this.#search.includes(body, literal)) {
        return true;
      }
    }
    return false;
  }

  /** Named captures of the first match, or null. Never throws: an engine failure counts and is no match. */
  exec(input: string): Readonly<Record<string, string>> | null {
    if (!this.mayMatch(input)) return null;
    const capped = this.#cap(input);
    if (this.#js !== null) {
      const match = this.#js.exec(capped);
      if (match === null) return null;
      return match.groups === undefined ? NO_GROUPS : this.#plainGroups(match.groups);
    }
    this.#metrics.re2Calls.inc();
    let match: ReturnType<RE2["exec"]>;
    try {
      // Not null here: a pattern without a JS engine was compiled by RE2 (see compile).
      match = this.#re!.exec(capped);
    } catch {
      // A wasm abort (heap exhausted): counted in re2_failures_total; the record keeps its body as is.
      this.#metrics.re2Failures.inc();
      return null;
    }
    if (match === null) return null;
    return match.groups ?? NO_GROUPS;
  }

  // Copying by name: spreading the null-prototype groups object costs ~250 ns, this ~10 ns.
  #plainGroups(groups: Record<string, string | undefined>): Record<string, string> {
    const out: Record<string, string> = {};
    const names = this.groupNames;
    for (let i = 0; i < names.length; i++) {
      const value = groups[names[i]];
      if (value !== undefined) out[names[i]] = value;
    }
    return out;
  }

  #cap(input: string): string {
    // A UTF-16 unit is at most 3 UTF-8 bytes, so short inputs need no encoding to know they fit.
    if (input.length * 3 <= this.#maxInputBytes) return input;
    const { read } = this.#encoder.encodeInto(input, this.#scratch);
    if (read >= input.length) return input;
    this.#metrics.re2InputsCapped.inc();
    return input.slice(0, read);
  }
}

function startsWithBytes(body: Uint8Array, prefix: Uint8Array): boolean {
  if (body.length < prefix.length) return false;
  for (let j = 0; j < prefix.length; j++) if (body[j] !== prefix[j]) return false;
  return true;
}

function compileEngine(pattern: string): RE2 {
  if (re2Engine === null) {
    throw new Re2CompileError(
      "engine_error",
      pattern,
      "the RE2 engine is not loaded (startup calls loadRe2Engine() for patterns outside the JS subset)",
    );
  }
  try {
    return new re2Engine(pattern, "u");
  } catch (thrown) {
    const message = toError(thrown).message;
    if (thrown instanceof SyntaxError) {
      const detail = message.replace(/^Invalid regular expression: \/.*\/u: /s, "");
      throw new Re2CompileError("syntax", pattern, detail, { cause: thrown });
    }
    throw new Re2CompileError("engine_error", pattern, message.slice(0, 200), { cause: thrown });
  }
}
