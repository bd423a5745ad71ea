/**
 * Incremental decoder for the API server's watch stream: one JSON object per line, arriving in chunks
 * that may split an object (or a UTF-8 character) anywhere.
 *
 * @module
 */

/** Why a line of the stream was not a JSON value. */
export type JsonLineFailure = "malformed_json" | "line_too_long";

/** One decoded line. */
export type JsonLineResult = { ok: true; value: unknown } | { ok: false; reason: JsonLineFailure };

/** Options for {@linkcode JsonLinesDecoder}. */
export interface JsonLinesDecoderOptions {
  /** Longest line kept in memory; a longer one is skipped and reported. @default 16777216 */
  maxLineChars?: number;
}

/**
 * Turns chunks of a JSON-lines stream into parsed values. Pieces of an unfinished line are kept in a
 * list and joined once its newline arrives, so a large object split into many chunks costs linear time.
 *
 * @example
 * ```ts
 * const decoder = new JsonLinesDecoder();
 * decoder.push(new TextEncoder().encode('{"type":"ADD')); // []
 * decoder.push(new TextEncoder().encode('ED"}\n')); // [{ ok: true, value: { type: "ADDED" } }]
 * ```
 */
export class JsonLinesDecoder {
  #text = new TextDecoder();
  #pieces: string[] = [];
  #pendingChars = 0;
  #isSkipping = false;
  #maxLineChars: number;

  constructor(options: JsonLinesDecoderOptions = {}) {
    this.#maxLineChars = options.maxLineChars ?? 16 * 1024 * 1024;
  }

  /** Decodes `chunk` and returns every line it completed, in order. */
  push(chunk: Uint8Array): JsonLineResult[] {
    return this.#take(this.#text.decode(chunk, { stream: true }));
  }

  /** Ends the stream: returns a last line that had no trailing newline, if any. */
  end(): JsonLineResult[] {
    const results = this.#take(this.#text.decode() + "\n");
    this.#pieces = [];
    this.#pendingChars = 0;
    this.#isSkipping = false;
    return results;
  }

  #take(text: string): JsonLineResult[] {
    const results: JsonLineResult[] = [];
    let start = 0;
    let newline = text.indexOf("\n");
    while (newline !== -1) {
      this.#append(text.slice(start, newline));
      this.#finishLine(results);
      start = newline + 1;
      newline = text.indexOf("\n", start);
    }
    if (start < text.length) this.#append(text.slice(start));
    return results;
  }

  #append(piece: string): void {
    if (this.#isSkipping || piece === "") return;
    this.#pendingChars += piece.length;
    if (this.#pendingChars > this.#maxLineChars) {
      this.#isSkipping = true;
      this.#pieces = [];
      return;
    }
    this.#pieces.push(piece);
  }

  #finishLine(results: JsonLineResult[]): void {
    if (this.#isSkipping) {
      results.push({ ok: false, reason: "line_too_long" });
    } else if (this.#pieces.length > 0) {
      const line = this.#pieces.length === 1 ? this.#pieces[0] : this.#pieces.join("");
      if (line.trim() !== "") results.push(parse(line));
    }
    this.#pieces = [];
    this.#pendingChars = 0;
    this.#isSkipping = false;
  }
}

function parse(line: string): JsonLineResult {
  try {
    return { ok: true, value: JSON.parse(line) };
  } catch {
    // A line that is not JSON is reported to the caller, which counts it and restarts the watch.
    return { ok: false, reason: "malformed_json" };
  }
}
