import assert from "node:assert/strict";
import { parsePodLogPath } from "../../src/discovery/mod.ts";
import type { PodLogPath } from "../../src/record.ts";
import { ContainerRates } from "../../src/signals/mod.ts";

function podPath(pod: string, container = "main", uid = "u1"): PodLogPath {
  const parsed = parsePodLogPath(`/var/log/pods/train_${pod}_${uid}/${container}/0.log`);
  if (!parsed.ok) throw new Error(`Test path did not parse: ${pod}`);
  return parsed.value;
}

Deno.test("container rates are records and bytes per second over the closed window", () => {
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 10_000, startMs: 0 });
  const a = podPath("a");
  const b = podPath("b");
  for (let i = 0; i < 100; i++) rates.count(a, 50);
  for (let i = 0; i < 10; i++) rates.count(b, 1000);
  assert.deepEqual(rates.snapshot(10_000), [
    { namespace: "train", pod: "a", container: "main", linesPerSecond: 10, bytesPerSecond: 500 },
    { namespace: "train", pod: "b", container: "main", linesPerSecond: 1, bytesPerSecond: 1000 },
  ]);
});

Deno.test("container rates repeat the last window until a new one is at least the window long", () => {
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 10_000, startMs: 0 });
  const a = podPath("a");
  for (let i = 0; i < 20; i++) rates.count(a, 1);
  assert.deepEqual(rates.snapshot(5_000).map((r) => r.linesPerSecond), [0]);
  assert.deepEqual(rates.snapshot(20_000).map((r) => r.linesPerSecond), [1]);
  rates.count(a, 1);
  assert.deepEqual(rates.snapshot(25_000).map((r) => r.linesPerSecond), [1]);
  assert.deepEqual(rates.snapshot(30_000).map((r) => r.linesPerSecond), [0.1]);
});

Deno.test("container rates show a container that went quiet at zero, then forget it", () => {
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 1_000, idleWindows: 2, startMs: 0 });
  rates.count(podPath("quiet"), 10);
  assert.equal(rates.snapshot(1_000).length, 1);
  assert.deepEqual(rates.snapshot(2_000).map((r) => [r.pod, r.linesPerSecond]), [["quiet", 0]]);
  assert.deepEqual(rates.snapshot(3_000), []);
});

Deno.test("container rates key by names, so a pod recreated under its name continues its series", () => {
  const rates = new ContainerRates({ maxSeries: 10, windowMs: 1_000, startMs: 0 });
  rates.count(podPath("w", "main", "uid-1"), 1);
  rates.count(podPath("w", "main", "uid-2"), 1);
  assert.deepEqual(rates.snapshot(1_000).map((r) => [r.pod, r.linesPerSecond]), [["w", 2]]);
});

Deno.test("container rates fold containers past the ceiling into other and count each record", () => {
  let overflow = 0;
  const rates = new ContainerRates({
    maxSeries: 2,
    windowMs: 1_000,
    startMs: 0,
    onOverflow: () => overflow++,
  });
  for (const pod of ["a", "b", "c", "d"]) for (let i = 0; i < 3; i++) rates.count(podPath(pod), 1);
  assert.deepEqual(rates.snapshot(1_000).map((r) => [r.pod, r.linesPerSecond]), [["a", 3], ["b", 3], [
    "other",
    6,
  ]]);
  assert.equal(overflow, 6);
});
