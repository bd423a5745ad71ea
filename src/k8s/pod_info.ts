/**
 * The slice of a Pod the agent keeps: wire types for what the API server sends, and a trim step that
 * keeps only the metadata enrichment needs (labels, selected annotations, owner, images, resolved env).
 * Dropping `managedFields`, status and unused annotations keeps the cache small and lets a MODIFIED
 * event that changed nothing we use keep the same object (so resources keep their identity).
 *
 * @module
 */

/** A container in a pod spec, as sent by the API server (only the fields read here). */
export interface WireContainer {
  name?: string;
  image?: string;
  env?: Array<{
    name?: string;
    value?: string;
    valueFrom?: { fieldRef?: { fieldPath?: string } };
  }>;
}

/** A Pod as sent by the API server (only the fields read here; everything may be missing). */
export interface WirePod {
  metadata?: {
    uid?: string;
    name?: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind?: string; name?: string; controller?: boolean }>;
  };
  spec?: {
    nodeName?: string;
    containers?: WireContainer[];
    initContainers?: WireContainer[];
    ephemeralContainers?: WireContainer[];
  };
}

/** What the agent keeps of one container of a pod. */
export interface ContainerInfo {
  readonly image: string;
  /** Kept env vars, resolved: literal values and fieldRefs to labels, annotations and pod fields. */
  readonly env: Readonly<Record<string, string>>;
}

/** What the agent keeps of one pod. Immutable: a change makes a new object. */
export interface PodInfo {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly nodeName: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  /** The controlling owner reference, if any. */
  readonly owner: { readonly kind: string; readonly name: string } | null;
  /** Containers, init containers and ephemeral containers by name. */
  readonly containers: Readonly<Record<string, ContainerInfo>>;
  /** Equal for two versions of the pod whose kept metadata is equal. */
  readonly fingerprint: string;
}

/** Which labels, annotations and env vars {@linkcode toPodInfo} keeps. Omitted predicates keep all. */
export interface PodTrimOptions {
  keepLabel?: (key: string) => boolean;
  keepAnnotation?: (key: string) => boolean;
  keepEnv?: (name: string) => boolean;
}

/** Why a wire object is not a usable pod. */
export type PodInfoFailure = "not_an_object" | "missing_identity";

/** The result of {@linkcode toPodInfo}. */
export type PodInfoResult = { ok: true; value: PodInfo } | { ok: false; reason: PodInfoFailure };

const FIELD_REF_RE = /^metadata\.(labels|annotations)\['([^']*)'\]$/;

/**
 * Trims a wire pod to the metadata the agent keeps.
 *
 * @example
 * ```ts
 * const r = toPodInfo({ metadata: { uid: "u1", name: "p", namespace: "ns" } }, {});
 * // r.ok && r.value.name === "p"
 * ```
 */
export function toPodInfo(wire: unknown, options: PodTrimOptions): PodInfoResult {
  if (typeof wire !== "object" || wire === null) return { ok: false, reason: "not_an_object" };
  const pod = wire as WirePod;
  const meta = pod.metadata ?? {};
  if (!isText(meta.uid) || !isText(meta.name) || !isText(meta.namespace)) {
    return { ok: false, reason: "missing_identity" };
  }
  const allLabels = stringRecord(meta.labels);
  const allAnnotations = stringRecord(meta.annotations);
  const nodeName = typeof pod.spec?.nodeName === "string" ? pod.spec.nodeName : "";
  const fields: Record<string, string> = { "metadata.name": meta.name, "metadata.namespace": meta.namespace };
  fields["metadata.uid"] = meta.uid;
  fields["spec.nodeName"] = nodeName;
  const containers: Record<string, ContainerInfo> = {};
  const spec = pod.spec ?? {};
  for (const list of [spec.containers, spec.initContainers, spec.ephemeralContainers]) {
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (typeof c !== "object" || c === null || !isText(c.name)) continue;
      containers[c.name] = {
        image: typeof c.image === "string" ? c.image : "",
        env: resolveEnv(c.env, options.keepEnv, { labels: allLabels, annotations: allAnnotations, fields }),
      };
    }
  }
  const labels = pick(allLabels, options.keepLabel);
  const annotations = pick(allAnnotations, options.keepAnnotation);
  const owner = controllerOf(meta.ownerReferences);
  const kept = {
    uid: meta.uid,
    namespace: meta.namespace,
    name: meta.name,
    nodeName,
    labels,
    annotations,
    owner,
  };
  const fingerprint = JSON.stringify([kept, containers]);
  return { ok: true, value: { ...kept, containers, fingerprint } };
}

interface EnvContext {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  fields: Record<string, string>;
}

function resolveEnv(
  env: WireContainer["env"],
  keep: ((name: string) => boolean) | undefined,
  context: EnvContext,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!Array.isArray(env)) return out;
  for (const entry of env) {
    if (typeof entry !== "object" || entry === null || !isText(entry.name)) continue;
    if (keep !== undefined && !keep(entry.name)) continue;
    if (typeof entry.value === "string") {
      out[entry.name] = entry.value;
      continue;
    }
    const fieldPath = entry.valueFrom?.fieldRef?.fieldPath;
    if (typeof fieldPath !== "string") continue;
    const value = resolveFieldRef(fieldPath, context);
    if (value !== undefined) out[entry.name] = value;
  }
  return out;
}

function resolveFieldRef(fieldPath: string, context: EnvContext): string | undefined {
  const m = FIELD_REF_RE.exec(fieldPath);
  if (m === null) return Object.hasOwn(context.fields, fieldPath) ? context.fields[fieldPath] : undefined;
  const source = m[1] === "labels" ? context.labels : context.annotations;
  return Object.hasOwn(source, m[2]) ? source[m[2]] : undefined;
}

function controllerOf(refs: unknown): PodInfo["owner"] {
  if (!Array.isArray(refs)) return null;
  for (const ref of refs) {
    if (typeof ref !== "object" || ref === null) continue;
    if (ref.controller === true && isText(ref.kind) && isText(ref.name)) {
      return { kind: ref.kind, name: ref.name };
    }
  }
  return null;
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value !== "object" || value === null) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

function pick(
  all: Record<string, string>,
  keep: ((key: string) => boolean) | undefined,
): Record<string, string> {
  if (keep === undefined) return all;
  const out: Record<string, string> = {};
  for (const key of Object.keys(all)) if (keep(key)) out[key] = all[key];
  return out;
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}
