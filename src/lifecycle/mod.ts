export type { Component, ComponentHealth } from "./component.ts";
export { Registry, type RegistryHealth, type RegistryOptions } from "./registry.ts";
export { abortableDelay } from "./abortable_delay.ts";
