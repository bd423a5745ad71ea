/**
 * Starts components in dependency order, stops them in reverse, and aggregates their health.
 * One component failing to stop never keeps the others from stopping.
 *
 * @module
 */

import type { Component, ComponentHealth } from "./component.ts";
import { type Logger, toError } from "../telemetry/log.ts";

/** Options for {@linkcode Registry}. */
export interface RegistryOptions {
  logger: Logger;
}

/** Health of every component, as `/readyz` reports it. */
export interface RegistryHealth {
  readonly isHealthy: boolean;
  readonly components: Record<string, ComponentHealth>;
}

/** Owns the agent's components for their whole life. */
export class Registry {
  #components: Component[] = [];
  #started: Component[] = [];
  #logger: Logger;
  #abort = new AbortController();
  #stopping: Promise<void> | null = null;

  constructor(options: RegistryOptions) {
    this.#logger = options.logger;
  }

  /** Adds a component; components start in the order they were added. */
  add(component: Component): void {
    this.#components.push(component);
  }

  /**
   * Starts every component in order. If one fails, the ones already started are stopped (in reverse)
   * and the error is rethrown.
   */
  async start(): Promise<void> {
    for (const component of this.#components) {
      try {
        await component.start(this.#abort.signal);
        this.#started.push(component);
        this.#logger.debug("Component started", { component: component.name });
      } catch (err) {
        await this.stop();
        throw new Error(`Cannot start ${component.name}: ${toError(err).message}`, { cause: err });
      }
    }
  }

  /** Stops started components in reverse order; idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    this.#abort.abort();
    for (const component of [...this.#started].reverse()) {
      try {
        await component.stop();
      } catch (err) {
        this.#logger.error("Component failed to stop cleanly", {
          component: component.name,
          error: toError(err),
        });
      }
    }
    this.#started = [];
  }

  /** Every component's health; healthy only when all are. */
  health(): RegistryHealth {
    const components: Record<string, ComponentHealth> = {};
    let isHealthy = this.#started.length === this.#components.length;
    for (const component of this.#components) {
      const h = this.#started.includes(component)
        ? component.health()
        : { isHealthy: false, detail: "not started" };
      components[component.name] = h;
      if (!h.isHealthy) isHealthy = false;
    }
    return { isHealthy, components };
  }
}
