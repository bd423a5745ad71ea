/**
 * Cursor commits: one flush interval's worth of cursors written to a real Deno KV file (one atomic
 * commit, one fsync), for 1000 files against a baseline of 100.
 *
 * @module
 */

import { CursorStore, type CursorValue } from "../src/cursor/mod.ts";

const DIR = Deno.makeTempDirSync({ prefix: "cursor_bench_" });
const KV = await Deno.openKv(`${DIR}/cursors.kv`);
const STORE = new CursorStore({ kv: KV });

globalThis.addEventListener("unload", () => {
  KV.close();
  Deno.removeSync(DIR, { recursive: true });
});

const UID = "0f8e1a2b-1111-2222-3333-444455556666";

/** `count` cursors shaped like production ones (realistic path lengths, hashes, sizes). */
function cursors(count: number): Map<string, CursorValue> {
  const out = new Map<string, CursorValue>();
  for (let i = 0; i < count; i++) {
    const ino = 4_000_000 + i;
    out.set(`66305:${ino}`, {
      path: `/var/log/pods/train-team-${i % 7}_trainer-${i}-worker-${i % 8}_${UID}/pytorch/${i % 3}.log`,
      dev: 66305,
      ino,
      offset: 1_234_567 + i * 4096,
      fingerprintLength: 1024,
      fingerprintHash: (0x9e3779b9 * (i + 1) >>> 0).toString(16).padStart(16, "0"),
      guardHash: (0x85ebca6b * (i + 1) >>> 0).toString(16).padStart(16, "0"),
      sizeBytes: 1_300_000 + i * 4096,
      isDrained: false,
      updatedAtMs: 1_700_000_000_000 + i,
    });
  }
  return out;
}

const CURSORS_100 = cursors(100);
const CURSORS_1000 = cursors(1000);

Deno.bench({
  name: "cursor: commit 100 files",
  group: "cursor commit",
  baseline: true,
  fn: async () => {
    await STORE.commit(CURSORS_100);
  },
});

Deno.bench({
  name: "cursor: commit 1000 files",
  group: "cursor commit",
  fn: async () => {
    await STORE.commit(CURSORS_1000);
  },
});

Deno.bench({
  name: "cursor: loadAll of 1000 cursors (startup)",
  group: "cursor load",
  fn: async () => {
    await STORE.loadAll();
  },
});
