import assert from "node:assert/strict";
import { encodeLogsRequest } from "../../src/export/otlp_encode.ts";
import type { LogRecord } from "../../src/record.ts";
import { decodeTypedRecords, type TypedValue } from "../_fakes/otlp_typed_values.ts";
import { startHarness } from "../_helpers/agent_harness.ts";
import { ContainerLog } from "../_helpers/kubelet_tree.ts";

const DEEP = '{"msg":"deep","x":' + '{"x":'.repeat(19) + "1" + "}".repeat(19) + "}";
const WIDE = JSON.stringify(
  Object.fromEntries([["msg", "wide"], ...Array.from({ length: 199 }, (_, i) => [`k${i}`, i])]),
);
const HUGE = JSON.stringify({ msg: "huge", blob: "Grüße ".repeat(50_000) });

/** Lines as the writer writes them, with what the receiver must decode. */
const LINES: { name: string; line: string; cuts?: number[]; want: (body: unknown) => void }[] = [
  {
    name: "nested objects and arrays",
    line: '{"msg":"nested","a":{"b":{"c":[1,"two",{"d":false}]}},"none":null}',
    want: (body) =>
      assert.deepEqual(body, { msg: "nested", a: { b: { c: [1, "two", { d: false }] } }, none: null }),
  },
  {
    name: "an object deeper than json.max_depth",
    line: DEEP,
    want: (body) => {
      let node = body as Record<string, unknown>;
      for (let depth = 1; depth < 8; depth++) node = node.x as Record<string, unknown>;
      // Level 8 holds the cut container as its JSON text.
      assert.equal(node.x, '{"x":'.repeat(12) + "1" + "}".repeat(12));
    },
  },
  {
    name: "an object wider than json.max_keys",
    line: WIDE,
    want: (body) => {
      assert.equal(Object.keys(body as object).length, 128);
      assert.equal((body as Record<string, unknown>).k126, 126);
    },
  },
  {
    name: "a 300 KB object split into P pieces",
    line: HUGE,
    cuts: [16_384 - 1, 32_768 + 1, 200_000],
    want: (body) => assert.equal((body as Record<string, string>).blob.length, "Grüße ".length * 50_000),
  },
  { name: "broken JSON", line: '{"msg":"broken",', want: (body) => assert.equal(body, '{"msg":"broken",') },
  { name: "a JSON array", line: "[1,2,3]", want: (body) => assert.equal(body, "[1,2,3]") },
  { name: "a JSON string", line: '"just text"', want: (body) => assert.equal(body, '"just text"') },
  {
    name: "JSON with trailing text",
    line: '{"msg":"t"} tail',
    want: (body) => assert.equal(body, '{"msg":"t"} tail'),
  },
  { name: "plain text", line: "plain line ✓", want: (body) => assert.equal(body, "plain line ✓") },
];

function bodyKey(body: unknown): string {
  if (typeof body === "string") return body;
  const msg = (body as Record<string, unknown>)?.msg;
  return typeof msg === "string" ? msg : JSON.stringify(body);
}

Deno.test("agent sends JSON object bodies as bounded maps and leaves every other body as its text", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "p-0", uid: "u-json", container: "c" });
  for (const l of LINES) log.write("stdout", l.line, l.cuts ?? []);
  log.close();
  await h.sink.waitForRecords(LINES.length);
  const byKey = new Map(h.sink.records.map((r) => [bodyKey(r.record.body), r.record.body]));
  for (const l of LINES) {
    const key = bodyKey(
      l.line.startsWith("{") && !l.name.includes("broken") && !l.name.includes("trailing")
        ? JSON.parse(l.line)
        : l.line,
    );
    assert.ok(byKey.has(key), `${l.name}: no record ${key.slice(0, 60)}`);
    l.want(byKey.get(key));
  }
  const m = h.agent.metrics;
  assert.equal(m.jsonParsed.total(), 4);
  assert.equal(m.jsonSkipped.get("malformed"), 1);
  assert.equal(m.jsonSkipped.get("trailing_text"), 1);
  assert.equal(m.jsonSkipped.get("not_object"), 3);
  assert.equal(m.jsonCut.get("depth"), 1);
  assert.equal(m.jsonCut.get("keys"), 200 - 128);
});

Deno.test("agent maps level and time keys to the record's severity and time", async () => {
  await using h = await startHarness();
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "p-1", uid: "u-sev", container: "c" });
  log.write("stdout", '{"level":"ERROR","ts":"2026-12-04T21:00:00.5Z","msg":"rfc3339"}');
  log.write("stdout", '{"severity":"W","time":1796418000123456789,"msg":"glog letter, epoch ns"}');
  log.write("stdout", '{"lvl":30,"timestamp":1796418000250,"msg":"pino number, epoch ms"}');
  log.write("stdout", '{"level":"chatty","time":0.34,"msg":"kept"}');
  log.close();
  await h.sink.waitForRecords(4);
  const byMsg = new Map(
    h.sink.records.map((r) => [(r.record.body as Record<string, unknown>).msg, r.record]),
  );
  const cases: [string, number, string, bigint | null][] = [
    ["rfc3339", 17, "ERROR", 1796418000_500000000n],
    ["glog letter, epoch ns", 13, "W", 1796418000_123456789n],
    ["pino number, epoch ms", 9, "30", 1796418000_250000000n],
  ];
  for (const [msg, number, text, time] of cases) {
    const r = byMsg.get(msg)!;
    assert.equal(r.severityNumber, number, msg);
    assert.equal(r.severityText, text, msg);
    assert.equal(r.timeUnixNano, time, msg);
    assert.deepEqual(Object.keys(r.body as object), ["msg"], msg);
  }
  const kept = byMsg.get("kept")!;
  assert.deepEqual(kept.body, { level: "chatty", time: 0.34, msg: "kept" });
  assert.equal(kept.severityNumber, 0);
  assert.notEqual(kept.timeUnixNano, 340_000_000n); // the CRI time stays
});

Deno.test("agent in json.mode attributes keeps the text body and adds the top-level fields", async () => {
  await using h = await startHarness({ config: { json: { mode: "attributes" } } });
  const log = new ContainerLog(h.root, { namespace: "ml", pod: "p-2", uid: "u-attr", container: "c" });
  const line = '{"level":"warn","msg":"slow batch","user":{"id":7},"tags":["a","b"],"log.iostream":"fake"}';
  log.write("stderr", line);
  log.close();
  await h.sink.waitForRecords(1);
  const r = h.sink.records[0].record;
  assert.equal(r.body, line);
  assert.equal(r.severityNumber, 13);
  assert.equal(r.attributes.msg, "slow batch");
  assert.deepEqual(r.attributes.user, { id: 7 });
  assert.deepEqual(r.attributes.tags, ["a", "b"]);
  assert.equal(r.attributes["log.iostream"], "stderr"); // the agent's own attribute wins
  assert.equal(h.agent.metrics.jsonCut.get("attribute_collision"), 1);
});

/**
 * Whether the OTLP encoder honours the number markers of record.ts (a `bigint` int, a `Float64Array`
 * double). The interim otlp-transformer serializer does not; the issue-9 encoder does.
 */
function encoderKeepsNumberKinds(): boolean {
  const record: LogRecord = {
    hrTime: [1, 0],
    hrTimeObserved: [1, 0],
    body: { big: 2n ** 60n, one: Float64Array.of(1) },
    attributes: {},
    droppedAttributesCount: 0,
    resource: { attributes: {} },
    instrumentationScope: { name: "probe", version: "0" },
  };
  const [decoded] = decodeTypedRecords(encodeLogsRequest([record]));
  const body = decoded.body as { kvlist?: Record<string, TypedValue> } | undefined;
  return (body?.kvlist?.one as { double?: number })?.double === 1 &&
    (body?.kvlist?.big as { int?: bigint })?.int === 2n ** 60n;
}

Deno.test({
  name: "agent keeps JSON ints, integral doubles and big integers exact on the wire",
  ignore: !encoderKeepsNumberKinds(),
  fn: async () => {
    await using h = await startHarness();
    const log = new ContainerLog(h.root, { namespace: "ml", pod: "p-3", uid: "u-num", container: "c" });
    log.write(
      "stdout",
      '{"msg":"numbers","int":7,"dbl":1.0,"exp":1e3,"frac":0.25,"big":9007199254740993,' +
        '"min":-9223372036854775808,"beyond":123456789012345678901234}',
    );
    log.close();
    await h.sink.waitForRecords(1);
    const [typed] = h.sink.logsRequestBodies.flatMap((b) => decodeTypedRecords(b));
    assert.deepEqual((typed.body as { kvlist: Record<string, TypedValue> }).kvlist, {
      msg: "numbers",
      int: { int: 7n },
      dbl: { double: 1 },
      exp: { double: 1000 },
      frac: { double: 0.25 },
      big: { int: 9007199254740993n },
      min: { int: -9223372036854775808n },
      beyond: "123456789012345678901234",
    });
  },
});
