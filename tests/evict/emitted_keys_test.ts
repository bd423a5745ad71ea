import assert from "node:assert/strict";
import { EMITTED_KEY_PREFIX, EmittedKeyStore, type JoinedKey } from "../../src/evict/mod.ts";

function key(i: number, atMs: number): JoinedKey {
  return {
    key: `uid-${i}|k8s.pod.evicted`,
    podUid: `uid-${i}`,
    eventName: "k8s.pod.evicted",
    reason: "Evicted",
    containerName: null,
    restartCount: null,
    timeMs: atMs,
    windowStartMs: atMs - 30_000,
    windowEndMs: atMs + 1_000,
    atMs,
  };
}

Deno.test("emitted key store round-trips keys under its own prefix, apart from the cursor keys", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set(["cursor", "v1", "some-file"], { offset: 10 });
  const store = new EmittedKeyStore({ kv, ttlMs: 60_000 });
  await store.save([key(1, 1_000), key(2, 2_000)]);
  assert.deepEqual(await store.loadAll(3_000), [key(1, 1_000), key(2, 2_000)]);
  const all = await Array.fromAsync(kv.list({ prefix: [] }));
  assert.deepEqual(
    all.map((e) => e.key[0]).sort(),
    ["cursor", EMITTED_KEY_PREFIX[0], EMITTED_KEY_PREFIX[0]],
  );
});

Deno.test("emitted key store skips and deletes keys older than the TTL and malformed values", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EmittedKeyStore({ kv, ttlMs: 60_000 });
  await store.save([key(1, 1_000), key(2, 100_000)]);
  await kv.set([...EMITTED_KEY_PREFIX, "junk"], { nonsense: true });
  assert.deepEqual(await store.loadAll(120_000), [key(2, 100_000)]);
  const left = await Array.fromAsync(kv.list({ prefix: [...EMITTED_KEY_PREFIX] }));
  assert.equal(left.length, 1);
});

Deno.test("emitted key store loads at most max_keys, the newest", async () => {
  using kv = await Deno.openKv(":memory:");
  const store = new EmittedKeyStore({ kv, ttlMs: 600_000, maxKeys: 2 });
  await store.save([key(1, 1_000), key(2, 3_000), key(3, 2_000)]);
  assert.deepEqual((await store.loadAll(4_000)).map((k) => k.podUid), ["uid-3", "uid-2"]);
});
