/**
 * Bearer tokens for the API server. Service-account tokens are projected files that kubelet rotates
 * (about hourly, valid for longer), so the file is read again at an interval and after every 401.
 *
 * @module
 */

/** Where the API client gets its bearer token. */
export interface TokenSource {
  /** The current token. @throws {TokenReadError} when it cannot be read */
  token(): Promise<string>;
  /** Forgets the cached token so the next {@linkcode token} reads it again (after a 401). */
  invalidate(): void;
}

/** A token file could not be read. */
export class TokenReadError extends Error {
  override name = "TokenReadError";
}

/** Options for {@linkcode FileTokenSource}. */
export interface FileTokenSourceOptions {
  /** The token file, e.g. `/var/run/secrets/kubernetes.io/serviceaccount/token`. */
  path: string;
  /** Read the file again when the cached token is older than this. @default 60000 */
  refreshIntervalMs?: number;
  /** Clock. @default Date.now */
  now?: () => number;
}

/** A token read from a file, re-read every `refreshIntervalMs` and after {@linkcode invalidate}. */
export class FileTokenSource implements TokenSource {
  #path: string;
  #refreshIntervalMs: number;
  #now: () => number;
  #token: string | null = null;
  #readAtMs = 0;

  constructor(options: FileTokenSourceOptions) {
    this.#path = options.path;
    this.#refreshIntervalMs = options.refreshIntervalMs ?? 60_000;
    this.#now = options.now ?? Date.now;
  }

  async token(): Promise<string> {
    const now = this.#now();
    if (this.#token !== null && now - this.#readAtMs < this.#refreshIntervalMs) return this.#token;
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (thrown) {
      throw new TokenReadError(`Cannot read service account token: ${this.#path}: ${String(thrown)}`, {
        cause: thrown,
      });
    }
    const token = text.trim();
    if (token === "") throw new TokenReadError(`Cannot read service account token: ${this.#path} is empty`);
    this.#token = token;
    this.#readAtMs = now;
    return token;
  }

  invalidate(): void {
    this.#token = null;
  }
}

/** A fixed token (from a kubeconfig). */
export class StaticTokenSource implements TokenSource {
  #token: string;

  constructor(token: string) {
    this.#token = token;
  }

  token(): Promise<string> {
    return Promise.resolve(this.#token);
  }

  invalidate(): void {}
}
