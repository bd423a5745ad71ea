import assert from "node:assert/strict";
import {
  ApiServerClient,
  ApiServerError,
  FileTokenSource,
  StaticTokenSource,
  type WatchEvent,
} from "../../src/k8s/mod.ts";
import { FakeApiServer, makePod, testCerts, waitUntil } from "../_fakes/apiserver.ts";

const IDLE_MS = 300;

async function tlsClient(server: FakeApiServer, token = "t0"): Promise<ApiServerClient> {
  const certs = await testCerts();
  return new ApiServerClient({
    baseUrl: server.url,
    token: new StaticTokenSource(token),
    httpClient: Deno.createHttpClient({ caCerts: [certs.caPem] }),
    idleTimeoutMs: IDLE_MS,
  });
}

/** Collects events of one watch until `until` holds or the watch ends; returns them and the error. */
async function collect(
  client: ApiServerClient,
  resourceVersion: string,
  options: { until?: (events: WatchEvent[]) => boolean; signal?: AbortSignal } = {},
): Promise<{ events: WatchEvent[]; error: unknown }> {
  const events: WatchEvent[] = [];
  const signal = options.signal ?? new AbortController().signal;
  try {
    for await (const event of client.watchPods({ resourceVersion, timeoutSeconds: 60, signal })) {
      events.push(event);
      if (options.until?.(events)) break;
    }
    return { events, error: null };
  } catch (error) {
    return { events, error };
  }
}

function reasonOf(error: unknown): string {
  return error instanceof ApiServerError ? error.reason : `not an ApiServerError: ${error}`;
}

Deno.test("client lists pods over TLS with a bearer token and the node field selector", async () => {
  await using server = await FakeApiServer.start({ tls: true, token: "t0" });
  server.addPod(makePod({ name: "mine", nodeName: "node-a" }));
  server.addPod(makePod({ name: "other", nodeName: "node-b" }));
  using client = await tlsClient(server);
  const list = await client.listPods({
    fieldSelector: "spec.nodeName=node-a",
    signal: new AbortController().signal,
  });
  assert.equal(list.resourceVersion, server.resourceVersion);
  assert.deepEqual(list.items.map((p) => (p as { metadata: { name: string } }).metadata.name), ["mine"]);
  assert.equal(server.requests[0].query.resourceVersion, "0");
});

Deno.test("client reports a wrong token as unauthorized", async () => {
  await using server = await FakeApiServer.start({ tls: true, token: "right" });
  using client = await tlsClient(server, "wrong");
  const error = await client.listPods({ signal: new AbortController().signal }).catch((e) => e);
  assert.equal(reasonOf(error), "unauthorized");
  assert.equal((error as ApiServerError).status, 401);
  assert.match((error as Error).message, /^API server rejected the token: HTTP 401/);
});

Deno.test("client rereads a rotated token file after a 401", async () => {
  const dir = await Deno.makeTempDir({ prefix: "client_token_" });
  try {
    const path = `${dir}/token`;
    await Deno.writeTextFile(path, "old\n");
    await using server = await FakeApiServer.start({ token: "old" });
    using client = new ApiServerClient({
      baseUrl: server.url,
      token: new FileTokenSource({ path, refreshIntervalMs: 3_600_000 }),
      idleTimeoutMs: IDLE_MS,
    });
    const signal = new AbortController().signal;
    await client.listPods({ signal });
    await Deno.writeTextFile(path, "new\n");
    server.setToken("new");
    assert.equal(reasonOf(await client.listPods({ signal }).catch((e) => e)), "unauthorized");
    await client.listPods({ signal });
    assert.deepEqual(server.requests.map((r) => [r.token, r.status]), [["old", 200], ["old", 401], [
      "new",
      200,
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client watch yields events split across chunks, and bookmarks", async () => {
  await using server = await FakeApiServer.start({ tls: true, token: "t0", splitEvents: true });
  using client = await tlsClient(server);
  const rv = server.resourceVersion;
  const pending = collect(client, rv, { until: (events) => events.length === 4 });
  await waitUntil(() => server.openWatches === 1, "watch open");
  const pod = server.addPod(makePod({ name: "a", labels: { big: "x".repeat(20_000) } }));
  server.updatePod({ ...pod, metadata: { ...pod.metadata, labels: { big: "y" } } });
  server.deletePod(pod.metadata.uid);
  server.bookmark();
  const { events, error } = await pending;
  assert.equal(error, null);
  assert.deepEqual(events.map((e) => e.type), ["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]);
  assert.equal(events[3].resourceVersion, server.resourceVersion);
  const query = server.requests.at(-1)!.query;
  assert.deepEqual([query.watch, query.resourceVersion, query.allowWatchBookmarks, query.timeoutSeconds], [
    "1",
    rv,
    "true",
    "60",
  ]);
});

Deno.test("client watch turns an ERROR 410 event into a gone error", async () => {
  await using server = await FakeApiServer.start();
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: IDLE_MS });
  const pending = collect(client, server.resourceVersion);
  await waitUntil(() => server.openWatches === 1, "watch open");
  server.goneMidWatch();
  assert.equal(reasonOf((await pending).error), "gone");
});

Deno.test("client watch turns an HTTP 410 answer into a gone error", async () => {
  await using server = await FakeApiServer.start();
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: IDLE_MS });
  server.answerGoneToNextWatches(1);
  assert.equal(reasonOf((await collect(client, "5")).error), "gone");
});

Deno.test("client watch fails fast when the connection drops mid-stream", async () => {
  await using server = await FakeApiServer.start();
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: 10_000 });
  const pending = collect(client, server.resourceVersion);
  await waitUntil(() => server.openWatches === 1, "watch open");
  server.addPod(makePod({ name: "a" }));
  const t0 = performance.now();
  server.dropWatches();
  const { events, error } = await pending;
  assert.equal(reasonOf(error), "network");
  assert.equal(events.length, 1);
  assert.ok(performance.now() - t0 < 1_000, "drop noticed long before the idle timeout");
});

Deno.test("client watch aborts a silent stream after the idle timeout", async () => {
  await using server = await FakeApiServer.start();
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: IDLE_MS });
  server.hangNextWatches(1);
  const t0 = performance.now();
  const { error } = await collect(client, server.resourceVersion);
  const elapsedMs = performance.now() - t0;
  assert.equal(reasonOf(error), "idle_timeout");
  assert.match((error as Error).message, /API server sent nothing for 300 ms/);
  assert.ok(elapsedMs >= IDLE_MS - 20 && elapsedMs < IDLE_MS + 700, `aborted after ${elapsedMs} ms`);
});

Deno.test("client reports an unreachable server as a network error", async () => {
  await using server = await FakeApiServer.start({ startDown: true });
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: IDLE_MS });
  const error = await client.listPods({ signal: new AbortController().signal }).catch((e) => e);
  assert.equal(reasonOf(error), "network");
  assert.match((error as Error).message, /^Cannot reach API server http:\/\/127\.0\.0\.1:\d+: /);
});

Deno.test("client watch ends with the caller's abort reason when aborted", async () => {
  await using server = await FakeApiServer.start();
  using client = new ApiServerClient({ baseUrl: server.url, idleTimeoutMs: 10_000 });
  const controller = new AbortController();
  const pending = collect(client, server.resourceVersion, { signal: controller.signal });
  await waitUntil(() => server.openWatches === 1, "watch open");
  const reason = new Error("stopping");
  controller.abort(reason);
  assert.equal((await pending).error, reason);
  await waitUntil(() => server.openWatches === 0, "server saw the watch end");
});
