/**
 * Compiles path globs (`*`, `?`, `**`, `[abc]`) into per-segment matchers, so a directory walk only
 * descends into directories that can still match.
 *
 * @module
 */

/** One compiled glob. */
export interface CompiledGlob {
  /** The leading directory without glob characters: where a walk (and the watcher) starts. */
  readonly root: string;
  /** Matchers for the segments after `root`; `"**"` matches any number of directories. */
  readonly segments: ReadonlyArray<RegExp | "**">;
  /** Matches a whole path. */
  readonly whole: RegExp;
}

const GLOB_CHARS = /[*?[]/;

function segmentToRegExpSource(segment: string): string {
  let out = "";
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i];
    if (ch === "*") out += "[^/]*";
    else if (ch === "?") out += "[^/]";
    else if (ch === "[") {
      const close = segment.indexOf("]", i + 1);
      if (close === -1) out += "\\[";
      else {
        const body = segment.slice(i + 1, close).replace(/\\/g, "\\\\");
        out += body.startsWith("!") ? `[^${body.slice(1)}]` : `[${body}]`;
        i = close;
      }
    } else out += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return out;
}

/**
 * Compiles an absolute glob.
 *
 * @example
 * ```ts
 * const g = compileGlob("/var/log/pods/*\/*\/*.log");
 * // g.root === "/var/log/pods"
 * ```
 */
export function compileGlob(pattern: string): CompiledGlob {
  const parts = pattern.split("/");
  let rootEnd = 0;
  while (rootEnd < parts.length - 1 && !GLOB_CHARS.test(parts[rootEnd])) rootEnd++;
  const root = parts.slice(0, rootEnd).join("/") || "/";
  const rest = parts.slice(rootEnd);
  const segments = rest.map((s) => s === "**" ? "**" as const : new RegExp(`^${segmentToRegExpSource(s)}$`));
  const last = parts.length - 1;
  // A middle `**` matches zero or more directories; a trailing one everything below (one or more names).
  const wholeSource = parts.map((s, i) => {
    if (s === "**") return i === last ? "(?:[^/]+/)*[^/]+" : "(?:[^/]+/)*";
    return segmentToRegExpSource(s) + (i === last ? "" : "/");
  }).join("");
  return { root, segments, whole: new RegExp(`^${wholeSource}$`) };
}

/** Matches a simple name pattern (`*` only, e.g. namespace filters). */
export function compileNamePattern(pattern: string): RegExp {
  return new RegExp(`^${segmentToRegExpSource(pattern)}$`);
}
