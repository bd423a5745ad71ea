/**
 * The most recent records of each container, kept so that an eviction, preemption or OOM kill can be
 * shipped together with the last lines the pod wrote. Bounded three ways: lines per container, bytes
 * per container, bytes overall (the accounted bytes include a fixed per-line and per-container
 * overhead, so the ceiling bounds memory, not only body text). Pure: time is a parameter.
 *
 * @module
 */

import { EncodedAnyValue } from "../export/mod.ts";
import type { Attributes, AttrValue, HrTime, PodLogPath, ResourceRef, Stream } from "../record.ts";

/** One remembered record. */
export interface RememberedLine {
  /** CRI time, ms since the epoch (what windows compare). */
  readonly timeMs: number;
  /** CRI time as the record had it. */
  readonly hrTime: HrTime;
  readonly containerName: string;
  /** The container instance (`<N>.log`). */
  readonly restartCount: number;
  readonly stream: Stream | null;
  /**
   * The body as the record had it: text or UTF-8 bytes cut to `maxLineBytes`, or a structured body
   * (a JSON object made a kvlist) kept as is.
   */
  readonly body: string | Uint8Array | AttrValue;
  /** Whether the body was cut to `maxLineBytes`. */
  readonly isCut: boolean;
  /** Accounted size: body bytes plus {@linkcode LINE_OVERHEAD_BYTES}. */
  readonly sizeBytes: number;
}

/** Bytes accounted per remembered line on top of its body (array slots, time tuple, body header). */
export const LINE_OVERHEAD_BYTES = 128;
/**
 * Bytes accounted for a structured body (a JSON object made a kvlist), which is kept by reference:
 * measuring it would cost a serialization per record. The JSON stage bounds its keys and depth.
 */
export const STRUCTURED_BODY_BYTES = 512;
/** Bytes accounted per container ring: the ring object and map entries, plus its slot arrays. */
export function containerOverheadBytes(lastLines: number): number {
  return 512 + 40 * lastLines;
}

/** Why lines left a ring before `lastLines` pushed them out. */
export type RingTrimReason = "container_bytes" | "total_bytes" | "idle";

/** Options for {@linkcode LastLines}. */
export interface LastLinesOptions {
  /** Lines kept per container. @default 50 */
  lastLines: number;
  /** Accounted bytes kept per container. */
  maxContainerBytes: number;
  /** Accounted bytes kept overall; over it the largest rings give up their oldest lines first. */
  maxTotalBytes: number;
  /** Longest body kept per line; longer ones are cut (the record itself is not changed). */
  maxLineBytes: number;
  /** A ring that received nothing for this long is dropped. @default 600000 */
  idleRingMs?: number;
}

/** The pod-level context last seen with a container's records. */
export interface RingContext {
  /** The resource object of the container's latest record. */
  readonly resource: ResourceRef;
  /** The latest record's attributes (rank, job). */
  readonly attributes: Attributes;
}

/** The slice of a record a ring keeps. */
export interface RingRecord {
  readonly hrTime: HrTime;
  readonly body: unknown;
  readonly attributes: Attributes;
  readonly resource: ResourceRef;
}

/**
 * One container's ring, as parallel arrays (one slot per line) so that remembering a record allocates
 * nothing per record (bodies that view a read chunk are copied out once per turn, see
 * {@linkcode LastLines}): this runs for every record the agent reads.
 */
interface Ring {
  readonly podUid: string;
  readonly containerName: string;
  readonly times: Float64Array;
  /**
   * CRI time as seconds and nanoseconds, not the record's `hrTime` array: holding that array would keep
   * one small object per line alive past a scavenge, and it would end up as old-generation garbage.
   */
  readonly seconds: Float64Array;
  readonly nanos: Int32Array;
  readonly bodies: Array<string | Uint8Array | AttrValue | undefined>;
  readonly streams: Array<Stream | null>;
  readonly restarts: Int32Array;
  readonly sizes: Int32Array;
  readonly cut: Uint8Array;
  /** Slot of the oldest line. */
  head: number;
  count: number;
  bytes: number;
  lastPushMs: number;
  resource: ResourceRef | null;
  attributes: Attributes | null;
  isRemoved: boolean;
  /** Holds bodies that view a shared read chunk; they are copied out at the end of the turn. */
  isDirty: boolean;
  /** Lines pushed since the ring became dirty: the newest slots that may hold such views. */
  pushedWhileDirty: number;
}

const EMPTY_BODY = new Uint8Array(0);

/** Whether `body` views part of a larger buffer (a read chunk its record shares with others). */
function isSharedView(body: Uint8Array): boolean {
  return body.byteLength !== body.buffer.byteLength;
}

/**
 * The bytes of a body that views a shared buffer (a read chunk, or the JSON stage's output chunk for
 * an encoded kvlist), or null when the body owns what it holds.
 */
function sharedBytesOf(body: unknown): Uint8Array | null {
  const bytes = body instanceof Uint8Array ? body : body instanceof EncodedAnyValue ? body.bytes : null;
  return bytes !== null && isSharedView(bytes) ? bytes : null;
}

/** Counts of lines removed early, by reason (the caller turns them into metrics). */
export type TrimCounts = Record<RingTrimReason, number>;

/** Per-container rings of recent records, bounded in lines and bytes. */
export class LastLines {
  #o: Required<LastLinesOptions>;
  #rings = new Map<string, Ring>();
  #byPod = new Map<string, Set<Ring>>();
  /** The ring of each file's path object (paths are shared per file): skips building the map key. */
  #byPath = new WeakMap<PodLogPath, Ring>();
  #totalBytes = 0;
  /** Lines trimmed early since the last {@linkcode takeTrimCounts}. */
  #trimmed: TrimCounts = { container_bytes: 0, total_bytes: 0, idle: 0 };

  #overheadBytes: number;
  /** Rings holding views of read chunks, copied out by {@linkcode #ownViews} in a microtask. */
  #dirty: Ring[] = [];

  constructor(options: LastLinesOptions) {
    this.#o = { idleRingMs: 600_000, ...options };
    this.#overheadBytes = containerOverheadBytes(options.lastLines);
  }

  /** Accounted bytes held. */
  get totalBytes(): number {
    return this.#totalBytes;
  }

  /** Container rings held. */
  get containers(): number {
    return this.#rings.size;
  }

  /**
   * Remembers a record of the file at `path` (its body is kept as given, or a cut copy); returns its CRI
   * time in ms.
   */
  push(path: PodLogPath, record: RingRecord, nowMs: number): number {
    let ring = this.#byPath.get(path);
    if (ring === undefined || ring.isRemoved) {
      ring = this.#ring(path.podUid, path.containerName);
      this.#byPath.set(path, ring);
    }
    ring.lastPushMs = nowMs;
    ring.resource = record.resource;
    ring.attributes = record.attributes;
    const capacity = this.#o.lastLines;
    if (ring.count === capacity) this.#dropOldest(ring, null);
    const slot = (ring.head + ring.count) % capacity;
    const timeMs = record.hrTime[0] * 1000 + Math.floor(record.hrTime[1] / 1e6);
    let body = record.body;
    let length: number;
    let isCut = 0;
    if (typeof body === "string" || body instanceof Uint8Array) {
      // A string's UTF-16 length stands for its size: exact for ASCII, within 3x of UTF-8 otherwise.
      length = body.length;
      if (length > this.#o.maxLineBytes) {
        body = body.slice(0, this.#o.maxLineBytes);
        length = this.#o.maxLineBytes;
        isCut = 1;
      }
    } else if (body === undefined || body === null) {
      body = "";
      length = 0;
    } else if (body instanceof EncodedAnyValue) {
      length = body.bytes.length;
    } else {
      length = STRUCTURED_BODY_BYTES;
    }
    const size = length + LINE_OVERHEAD_BYTES;
    const stream = record.attributes["log.iostream"];
    ring.times[slot] = timeMs;
    ring.seconds[slot] = record.hrTime[0];
    ring.nanos[slot] = record.hrTime[1];
    ring.bodies[slot] = body as string | Uint8Array | AttrValue;
    ring.streams[slot] = stream === "stdout" || stream === "stderr" ? stream : null;
    ring.restarts[slot] = path.restartCount;
    ring.sizes[slot] = size;
    ring.cut[slot] = isCut;
    if (isCut === 0 && !ring.isDirty && sharedBytesOf(body) !== null) {
      ring.isDirty = true;
      ring.pushedWhileDirty = 0;
      if (this.#dirty.push(ring) === 1) queueMicrotask(this.#ownViews);
    }
    if (ring.isDirty) ring.pushedWhileDirty++;
    ring.count++;
    ring.bytes += size;
    this.#totalBytes += size;
    while (ring.bytes > this.#o.maxContainerBytes && ring.count > 1) {
      this.#dropOldest(ring, "container_bytes");
    }
    if (this.#totalBytes > this.#o.maxTotalBytes) this.#shrinkLargest();
    return timeMs;
  }

  /** The lines of a pod's containers, oldest first per container, that `keep` accepts. */
  linesOf(podUid: string, keep: (line: RememberedLine) => boolean): RememberedLine[] {
    const rings = this.#byPod.get(podUid);
    if (rings === undefined) return [];
    const out: RememberedLine[] = [];
    for (const ring of rings) {
      for (let i = 0; i < ring.count; i++) {
        const slot = (ring.head + i) % this.#o.lastLines;
        const line: RememberedLine = {
          timeMs: ring.times[slot],
          hrTime: [ring.seconds[slot], ring.nanos[slot]],
          containerName: ring.containerName,
          restartCount: ring.restarts[slot],
          stream: ring.streams[slot],
          body: ring.bodies[slot]!,
          isCut: ring.cut[slot] === 1,
          sizeBytes: ring.sizes[slot],
        };
        if (keep(line)) out.push(line);
      }
    }
    return out;
  }

  /** The most recent context of a pod (preferring `containerName` when given). */
  contextOf(podUid: string, containerName: string | null): RingContext | null {
    const rings = this.#byPod.get(podUid);
    if (rings === undefined) return null;
    let best: Ring | null = null;
    for (const ring of rings) {
      if (ring.resource === null) continue;
      if (containerName !== null && ring.containerName === containerName) return contextOfRing(ring);
      if (best === null || ring.lastPushMs > best.lastPushMs) best = ring;
    }
    return best === null ? null : contextOfRing(best);
  }

  /** Drops rings that received nothing for `idleRingMs`. */
  sweep(nowMs: number): void {
    for (const ring of [...this.#rings.values()]) {
      if (nowMs - ring.lastPushMs < this.#o.idleRingMs) continue;
      this.#trimmed.idle += ring.count;
      this.#remove(ring);
    }
  }

  /**
   * Copies the bodies that view a shared read chunk into one buffer per ring. A record's body views the
   * chunk its read produced (one copy per read, not per record); a ring that kept such a view would keep
   * the whole chunk (up to `tail.read_buffer_size`) alive. Run at the end of the turn that pushed them,
   * so only the lines still in the ring are copied: a busy container copies its last lines once per
   * read, not each line it reads.
   */
  #ownViews = (): void => {
    const capacity = this.#o.lastLines;
    for (const ring of this.#dirty) {
      ring.isDirty = false;
      if (ring.isRemoved) continue;
      const first = ring.count - Math.min(ring.pushedWhileDirty, ring.count);
      let total = 0;
      for (let i = first; i < ring.count; i++) {
        total += sharedBytesOf(ring.bodies[(ring.head + i) % capacity])?.byteLength ?? 0;
      }
      const store = new Uint8Array(total);
      let at = 0;
      for (let i = first; i < ring.count; i++) {
        const slot = (ring.head + i) % capacity;
        const body = ring.bodies[slot];
        const bytes = sharedBytesOf(body);
        if (bytes === null) continue;
        const own = bytes.byteLength === 0 ? EMPTY_BODY : store.subarray(at, at + bytes.byteLength);
        own.set(bytes);
        at += bytes.byteLength;
        ring.bodies[slot] = body instanceof EncodedAnyValue ? new EncodedAnyValue(own) : own;
      }
    }
    this.#dirty.length = 0;
  };

  /** Lines trimmed early since the last call, by reason; resets the counts. */
  takeTrimCounts(): TrimCounts {
    const counts = this.#trimmed;
    this.#trimmed = { container_bytes: 0, total_bytes: 0, idle: 0 };
    return counts;
  }

  #ring(podUid: string, containerName: string): Ring {
    const key = `${podUid}/${containerName}`;
    let ring = this.#rings.get(key);
    if (ring !== undefined) return ring;
    const capacity = this.#o.lastLines;
    ring = {
      podUid,
      containerName,
      times: new Float64Array(capacity),
      seconds: new Float64Array(capacity),
      nanos: new Int32Array(capacity),
      bodies: new Array(capacity).fill(undefined),
      streams: new Array(capacity).fill(null),
      restarts: new Int32Array(capacity),
      sizes: new Int32Array(capacity),
      cut: new Uint8Array(capacity),
      head: 0,
      count: 0,
      bytes: this.#overheadBytes,
      lastPushMs: 0,
      resource: null,
      attributes: null,
      isRemoved: false,
      isDirty: false,
      pushedWhileDirty: 0,
    };
    this.#totalBytes += this.#overheadBytes;
    this.#rings.set(key, ring);
    let pod = this.#byPod.get(podUid);
    if (pod === undefined) this.#byPod.set(podUid, pod = new Set());
    pod.add(ring);
    return ring;
  }

  #dropOldest(ring: Ring, reason: RingTrimReason | null): void {
    const slot = ring.head;
    // Release the body at once: a cleared slot must not keep a large string or buffer alive.
    ring.bodies[slot] = undefined;
    ring.head = (ring.head + 1) % this.#o.lastLines;
    ring.count--;
    ring.bytes -= ring.sizes[slot];
    this.#totalBytes -= ring.sizes[slot];
    if (reason !== null) this.#trimmed[reason]++;
  }

  /**
   * Over the overall ceiling: the largest rings give up their oldest lines until the total is at 90% of
   * the ceiling (the slack makes the scan rare). Largest first, not least recently written: the ring of
   * a rank that went quiet before it was killed holds exactly the lines an eviction record needs.
   */
  #shrinkLargest(): void {
    const target = this.#o.maxTotalBytes * 0.9;
    const rings = [...this.#rings.values()].sort((a, b) => b.bytes - a.bytes);
    while (this.#totalBytes > target && rings.length > 0) {
      const largest = rings[0];
      if (largest.count === 0) {
        this.#remove(largest);
        rings.shift();
        continue;
      }
      this.#dropOldest(largest, "total_bytes");
      // Keep the array ordered by bytes cheaply: move the shrunk ring down past the rings now larger.
      let i = 0;
      while (i + 1 < rings.length && rings[i + 1].bytes > rings[i].bytes) {
        [rings[i], rings[i + 1]] = [rings[i + 1], rings[i]];
        i++;
      }
    }
  }

  #remove(ring: Ring): void {
    const key = `${ring.podUid}/${ring.containerName}`;
    if (this.#rings.get(key) !== ring) return;
    ring.isRemoved = true;
    this.#rings.delete(key);
    this.#totalBytes -= ring.bytes;
    const pod = this.#byPod.get(ring.podUid);
    pod?.delete(ring);
    if (pod?.size === 0) this.#byPod.delete(ring.podUid);
  }
}

function contextOfRing(ring: Ring): RingContext {
  return { resource: ring.resource!, attributes: ring.attributes! };
}
