/**
 * Static analysis of RE2 patterns for {@linkcode Re2Fields}: named groups, the literal pre-filter, and
 * whether a pattern may run on the JS engine instead (same matches, linear time). Private to extract/.
 *
 * @module
 */

/**
 * A necessary condition for a match, derived from the pattern's literal start: some `literals` entry
 * must start the input (`isAnchored`) or occur in it.
 */
export interface LiteralPrefilter {
  readonly isAnchored: boolean;
  readonly literals: readonly string[];
}

const MAX_PREFILTER_LITERALS = 32;

/** Names of `(?P<name>` and `(?<name>` groups, skipping escapes and character classes. */
export function scanGroupNames(pattern: string): string[] {
  const names: string[] = [];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      if (pattern[i + 1] === "]") i++;
    } else if (c === "(" && pattern[i + 1] === "?") {
      const m = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(pattern.slice(i, i + 80));
      if (m !== null) names.push(m[1]);
    }
  }
  return names;
}

/**
 * Derives the literal strings one of which every match must start with, from the pattern's leading
 * literal characters and groups of literal alternatives (`^\[(?:rank|default)` gives `[rank`,
 * `[default`). Sound by construction: it stops at the first construct it does not understand
 * (class, dot, escape class, flag group, optional quantifier), so it can only be too permissive.
 */
export function derivePrefilter(pattern: string): LiteralPrefilter | null {
  if (hasTopLevelAlternation(pattern)) return null;
  const isAnchored = pattern.startsWith("^");
  let prefixes = [""];
  let i = isAnchored ? 1 : 0;
  while (i < pattern.length) {
    const atom = literalAtom(pattern, i);
    if (atom === null) break;
    const quantifier = pattern[atom.next];
    if (quantifier === "*" || quantifier === "?" || quantifier === "{") break;
    const combined = prefixes.flatMap((p) => atom.alternatives.map((a) => p + a));
    if (combined.length > MAX_PREFILTER_LITERALS) break;
    prefixes = combined;
    if (quantifier === "+") break;
    i = atom.next;
  }
  if (prefixes.some((p) => p === "")) return null;
  return { isAnchored, literals: [...new Set(prefixes)] };
}

export interface LiteralAtom {
  alternatives: string[];
  next: number;
}

const LITERAL_ESCAPE_RE = /[^0-9A-Za-z]/;
const META = new Set([".", "[", "]", "(", ")", "|", "*", "+", "?", "{", "}", "^", "$"]);

/** A literal character, escaped punctuation, or a group whose branches are all plain literals. */
export function literalAtom(pattern: string, i: number): LiteralAtom | null {
  const c = pattern[i];
  if (c === "\\") {
    const d = pattern[i + 1];
    if (d === undefined || !LITERAL_ESCAPE_RE.test(d)) return null;
    return { alternatives: [d], next: i + 2 };
  }
  if (c === "(") return literalGroup(pattern, i);
  if (META.has(c)) return null;
  const code = pattern.codePointAt(i)!;
  const char = String.fromCodePoint(code);
  return { alternatives: [char], next: i + char.length };
}

export function literalGroup(pattern: string, i: number): LiteralAtom | null {
  let j = i + 1;
  if (pattern.startsWith("?:", j)) j += 2;
  else if (pattern[j] === "?") {
    const m = /^\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(pattern.slice(j, j + 80));
    if (m === null) return null; // a flag group such as (?i) changes what the literals mean
    j += m[0].length;
  }
  const branches: string[] = [""];
  while (j < pattern.length) {
    const c = pattern[j];
    if (c === ")") return { alternatives: branches, next: j + 1 };
    if (c === "|") {
      branches.push("");
      j++;
      continue;
    }
    const atom = literalAtom(pattern, j);
    if (atom === null || atom.alternatives.length !== 1 || pattern[j] === "(") return null;
    const quantifier = pattern[atom.next];
    if (quantifier === "*" || quantifier === "?" || quantifier === "{" || quantifier === "+") return null;
    branches[branches.length - 1] += atom.alternatives[0];
    j = atom.next;
  }
  return null;
}

function hasTopLevelAlternation(pattern: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      if (pattern[i + 1] === "]") i++;
    } else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}

// Characters that must (and the only ones that may) be escaped outside a class in a JS `u` RegExp.
const JS_SYNTAX_CHARS = new Set(["^", "$", "\\", ".", "*", "+", "?", "(", ")", "[", "]", "{", "}", "|", "/"]);
const NAMED_GROUP_RE = /^\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>/;

/**
 * A JS RegExp that matches exactly like the RE2 pattern and runs in linear time on a backtracking
 * engine, or null. Only a small subset qualifies: anchored at `^`; literals; `(?:a|b)` groups of
 * literals; `\d` with a quantifier; named groups of those (not quantified, not nested). A quantified
 * `\d` must be followed by a literal that is not a digit (or end the pattern), so no two quantifiers
 * can compete for the same characters and backtracking stays bounded. In this subset both engines
 * agree: `^` is the start of input, `\d` is ASCII 0-9, and alternation is leftmost-first.
 */
export function linearJsEquivalent(pattern: string): RegExp | null {
  if (!pattern.startsWith("^")) return null;
  let source = "^";
  let i = 1;
  let isInGroup = false;
  let mustEndDigits = false;
  while (i < pattern.length) {
    const c = pattern[i];
    if (c === ")") {
      if (!isInGroup || isQuantifier(pattern[i + 1])) return null;
      isInGroup = false;
      source += ")";
      i++;
    } else if (c === "(") {
      const named = NAMED_GROUP_RE.exec(pattern.slice(i, i + 80));
      if (isInGroup) return null;
      if (named !== null) {
        isInGroup = true;
        source += `(?<${named[1]}>`;
        i += named[0].length;
        continue;
      }
      const group = pattern.startsWith("(?:", i) ? literalGroup(pattern, i) : null;
      if (group === null || isQuantifier(pattern[group.next])) return null;
      if (mustEndDigits && group.alternatives.some((a) => a === "" || isDigit(a[0]))) return null;
      source += `(?:${group.alternatives.map(escapeJs).join("|")})`;
      mustEndDigits = false;
      i = group.next;
    } else if (c === "\\" && pattern[i + 1] === "d") {
      const quantifier = quantifierAt(pattern, i + 2);
      if (quantifier === null || mustEndDigits) return null;
      source += `\\d${quantifier.text}`;
      mustEndDigits = quantifier.isVariable;
      i += 2 + quantifier.text.length;
    } else {
      const atom = literalAtom(pattern, i);
      if (atom === null || isQuantifier(pattern[atom.next])) return null;
      const char = atom.alternatives[0];
      if (mustEndDigits && isDigit(char)) return null;
      source += escapeJs(char);
      mustEndDigits = false;
      i = atom.next;
    }
  }
  return isInGroup ? null : new RegExp(source, "u");
}

function quantifierAt(pattern: string, i: number): { text: string; isVariable: boolean } | null {
  const c = pattern[i];
  let text = "";
  if (c === "+" || c === "*" || c === "?") text = c;
  else if (c === "{") text = /^\{\d{1,4}(?:,\d{0,4})?\}/.exec(pattern.slice(i, i + 12))?.[0] ?? "";
  if (c === "{" && text === "") return null;
  const next = pattern[i + text.length];
  if (text !== "" && (next === "?" || next === "+")) return null; // lazy or possessive: leave to RE2
  const isExact = /^\{(\d+)\}$/.test(text);
  return { text, isVariable: text !== "" && !isExact };
}

function isQuantifier(c: string | undefined): boolean {
  return c === "*" || c === "+" || c === "?" || c === "{";
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

function escapeJs(text: string): string {
  let out = "";
  for (const c of text) out += JS_SYNTAX_CHARS.has(c) ? `\\${c}` : c;
  return out;
}
