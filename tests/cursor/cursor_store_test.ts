import assert from "node:assert/strict";
import { CursorStore, type CursorValue, CursorWriteError } from "../../src/cursor/mod.ts";

/** A temp directory for a KV file, removed on dispose. */
interface KvDir extends AsyncDisposable {
  path: string;
}

async function kvDir(): Promise<KvDir> {
  const dir = await Deno.makeTempDir({ prefix: "cursor_store_test_" });
  return { path: `${dir}/cursors.kv`, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Opens KV at `path`; closed on dispose. */
async function openKv(path: string): Promise<Deno.Kv & Disposable> {
  const kv = await Deno.openKv(path);
  return Object.assign(kv, { [Symbol.dispose]: () => kv.close() });
}

function cursor(ino: number, offset: number, overrides: Partial<CursorValue> = {}): CursorValue {
  return {
    path: `/var/log/pods/ml_trainer-${ino}_0f8e1a2b-1111-2222-3333-444455556666/worker/0.log`,
    dev: 66305,
    ino,
    offset,
    fingerprintLength: 1024,
    fingerprintHash: "0123456789abcdef",
    guardHash: offset === 0 ? "" : "fedcba9876543210",
    sizeBytes: offset + 10,
    isDrained: false,
    updatedAtMs: 1_700_000_000_000 + ino,
    ...overrides,
  };
}

const keyOf = (c: CursorValue): string => `${c.dev}:${c.ino}`;

function changesOf(cursors: CursorValue[]): Map<string, CursorValue | null> {
  return new Map(cursors.map((c) => [keyOf(c), c]));
}

Deno.test("cursor store loads exactly what a commit wrote", async () => {
  await using dir = await kvDir();
  using kv = await openKv(dir.path);
  const store = new CursorStore({ kv });
  const written = [
    cursor(1, 0),
    cursor(2, 4096),
    cursor(3, 2 ** 40, { isDrained: true, path: "/var/log/pods/ns_p_u/c/0.log.20240101-120000" }),
  ];
  await store.commit(changesOf(written));
  assert.deepEqual(await store.loadAll(), changesOf(written));
});

Deno.test("cursor store on an empty KV loads nothing", async () => {
  using kv = await openKv(":memory:");
  assert.equal((await new CursorStore({ kv }).loadAll()).size, 0);
});

Deno.test("cursor store overwrites a cursor and deletes one given null", async () => {
  await using dir = await kvDir();
  using kv = await openKv(dir.path);
  const store = new CursorStore({ kv });
  await store.commit(changesOf([cursor(1, 100), cursor(2, 200), cursor(3, 300)]));
  await store.commit(new Map([["66305:1", cursor(1, 150)], ["66305:2", null], ["66305:404", null]]));
  assert.deepEqual(await store.loadAll(), changesOf([cursor(1, 150), cursor(3, 300)]));
});

Deno.test("cursor store commits more than 1000 changes in chunks and every one lands", async () => {
  await using dir = await kvDir();
  using kv = await openKv(dir.path);
  const store = new CursorStore({ kv });
  const first = Array.from({ length: 2500 }, (_, i) => cursor(i, i * 10));
  await store.commit(changesOf(first));
  assert.equal((await store.loadAll()).size, 2500);

  // One commit mixing 1200 deletes and 1300 updates (more than two chunks).
  const changes = new Map<string, CursorValue | null>();
  for (const c of first) changes.set(keyOf(c), c.ino < 1200 ? null : { ...c, offset: c.offset + 1 });
  await store.commit(changes);
  const loaded = await store.loadAll();
  assert.equal(loaded.size, 1300);
  for (const c of first.slice(1200)) assert.equal(loaded.get(keyOf(c))?.offset, c.offset + 1);
});

Deno.test("cursor store keeps cursors with long pod paths in one 1000-mutation chunk", async () => {
  await using dir = await kvDir();
  using kv = await openKv(dir.path);
  const store = new CursorStore({ kv });
  // The longest path kubelet can write: 63-char namespace, 253-char pod name, 63-char container.
  const longPath =
    `/var/log/pods/${"n".repeat(63)}_${"p".repeat(253)}_0f8e1a2b-1111-2222-3333-444455556666/` +
    `${"c".repeat(63)}/10.log.20240101-120000`;
  const cursors = Array.from({ length: 1000 }, (_, i) => cursor(i, i, { path: longPath }));
  await store.commit(changesOf(cursors));
  assert.equal((await store.loadAll()).size, 1000);
});

Deno.test("cursor store cursors survive closing and reopening the same path", async () => {
  await using dir = await kvDir();
  const written = changesOf([cursor(7, 777), cursor(8, 888, { isDrained: true })]);
  {
    using kv = await openKv(dir.path);
    await new CursorStore({ kv }).commit(written);
  }
  using kv = await openKv(dir.path);
  assert.deepEqual(await new CursorStore({ kv }).loadAll(), written);
});

Deno.test("cursor store commit on a closed KV throws CursorWriteError naming the count and cause", async () => {
  await using dir = await kvDir();
  const kv = await Deno.openKv(dir.path);
  const store = new CursorStore({ kv });
  kv.close();
  await assert.rejects(
    () => store.commit(changesOf([cursor(1, 1)])),
    (err: unknown) => {
      assert.ok(err instanceof CursorWriteError);
      assert.equal(err.name, "CursorWriteError");
      assert.match(err.message, /^Cannot commit 1 cursors: \S/);
      assert.doesNotMatch(err.message, /\.$/);
      assert.ok(err.cause !== undefined, "the KV error is kept as cause");
      return true;
    },
  );
});

Deno.test("cursor store commit of no changes writes nothing and succeeds", async () => {
  using kv = await openKv(":memory:");
  const store = new CursorStore({ kv });
  await store.commit(new Map());
  assert.equal((await store.loadAll()).size, 0);
});

interface ForeignCase {
  name: string;
  key: Deno.KvKey;
  value: unknown;
}

const FOREIGN: ForeignCase[] = [
  { name: "a string", key: ["cursor", "v1", "1:1"], value: "not a cursor" },
  { name: "null", key: ["cursor", "v1", "1:2"], value: null },
  { name: "an object without offset", key: ["cursor", "v1", "1:3"], value: { dev: 1, ino: 3, path: "/x" } },
  {
    name: "an offset that is a string",
    key: ["cursor", "v1", "1:4"],
    value: { ...cursor(4, 0), offset: "12" },
  },
  { name: "a cursor under a numeric key", key: ["cursor", "v1", 5], value: cursor(5, 5) },
  { name: "a cursor under another version", key: ["cursor", "v2", "1:6"], value: cursor(6, 6) },
  { name: "a cursor under another prefix", key: ["other", "v1", "1:7"], value: cursor(7, 7) },
];

Deno.test("cursor store loadAll ignores values that are not cursors", async () => {
  using kv = await openKv(":memory:");
  for (const { key, value } of FOREIGN) await kv.set(key, value);
  const store = new CursorStore({ kv });
  await store.commit(changesOf([cursor(9, 99)]));
  const loaded = await store.loadAll();
  assert.deepEqual(
    [...loaded.keys()],
    ["66305:9"],
    `kept: ${JSON.stringify([...loaded.keys()])} of ${FOREIGN.length}`,
  );
});
