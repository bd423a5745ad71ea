/**
 * The one interface every long-running part of the agent implements.
 *
 * @module
 */

/** Health as a component reports it. */
export interface ComponentHealth {
  readonly isHealthy: boolean;
  /** Short human-readable detail shown in `/readyz`. */
  readonly detail: string;
}

/** A part of the agent with a lifetime: started in dependency order, stopped in reverse. */
export interface Component {
  readonly name: string;
  /** Starts the component; resolves once it is running (not when it ends). */
  start(signal: AbortSignal): Promise<void>;
  /** Stops the component; idempotent. */
  stop(): Promise<void>;
  health(): ComponentHealth;
}
