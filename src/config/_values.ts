/**
 * What a raw config value is, for validation and its messages (shared by the option validator and the
 * rate-budget converter).
 *
 * @module
 */

/** A plain mapping as YAML and JSON parsers produce it (no class instances, no arrays). */
export function isMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A short description of a raw value for "Expected X, got Y" messages. */
export function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (isMapping(value)) return "a mapping";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${value}`;
  return `a value of type ${value instanceof Object ? value.constructor.name : typeof value}`;
}
