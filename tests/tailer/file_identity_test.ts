import assert from "node:assert/strict";
import fc from "fast-check";
import { fingerprintOf, guardHashAt, hashBytes, identityKey } from "../../src/tailer/mod.ts";
import { GUARD_BYTES, readAt } from "../../src/tailer/file_identity.ts";
import { assertProperty } from "../_helpers/property.ts";

const encoder = new TextEncoder();

/** A temp file holding `content`, open for reading, closed and removed on dispose. */
interface OpenTempFile extends AsyncDisposable {
  path: string;
  file: Deno.FsFile;
}

async function openTemp(content: Uint8Array): Promise<OpenTempFile> {
  const path = await Deno.makeTempFile({ prefix: "file_identity_test_" });
  await Deno.writeFile(path, content);
  const file = await Deno.open(path, { read: true });
  return {
    path,
    file,
    [Symbol.asyncDispose]: async () => {
      file.close();
      await Deno.remove(path);
    },
  };
}

function positionOf(file: Deno.FsFile): number {
  return file.seekSync(0, Deno.SeekMode.Current);
}

/** `length` bytes of a repeating pattern, distinct at every position modulo 251. */
function patternBytes(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => i % 251);
}

Deno.test("identityKey joins dev and inode", () => {
  assert.equal(identityKey(66305, 1234567), "66305:1234567");
});

interface HashCase {
  name: string;
  bytes: Uint8Array;
  want: string;
}

// Pinned values: cursors persisted by one release must match the hashes computed by the next. The first
// half is plain 32-bit FNV-1a ("a" -> e40c292c is the published test vector).
const HASH_CASES: HashCase[] = [
  { name: "no bytes", bytes: new Uint8Array(0), want: "811c9dc5cbf29ce4" },
  { name: "one ASCII byte", bytes: encoder.encode("a"), want: "e40c292c93ec655f" },
  {
    name: "a CRI line",
    bytes: encoder.encode("2024-05-01T12:00:00.000000000Z stdout F hello\n"),
    want: "3bc9d0a1fd7186bf",
  },
  {
    name: "every byte value",
    bytes: Uint8Array.from({ length: 256 }, (_, i) => i),
    want: "90a458c53bf0ace4",
  },
];

for (const { name, bytes, want } of HASH_CASES) {
  Deno.test(`hashBytes of ${name} is stable across releases`, () => {
    const hash = hashBytes(bytes);
    assert.match(hash, /^[0-9a-f]{16}$/);
    assert.equal(hash, want);
    assert.equal(hashBytes(bytes.slice()), hash);
  });
}

Deno.test("hashBytes differs when any one byte changes", () => {
  assertProperty(
    fc.property(
      fc.uint8Array({ minLength: 1, maxLength: 1024 }),
      fc.nat(),
      fc.integer({ min: 1, max: 255 }),
      (bytes, at, flip) => {
        const changed = bytes.slice();
        changed[at % bytes.length] ^= flip;
        assert.notEqual(hashBytes(changed), hashBytes(bytes));
      },
    ),
    1000,
  );
});

Deno.test("hashBytes tells apart inputs that are prefixes or swaps of each other", () => {
  const cases = [
    ["", "\0"],
    ["ab", "ba"],
    ["abc", "abcd"],
    ["\0\0", "\0"],
  ];
  for (const [a, b] of cases) {
    assert.notEqual(hashBytes(encoder.encode(a)), hashBytes(encoder.encode(b)), `${JSON.stringify([a, b])}`);
  }
});

Deno.test("fingerprintOf grows with the file until it reaches its maximum length", async () => {
  await using tmp = await openTemp(new Uint8Array(0));
  const content = patternBytes(300);
  const seen: Array<{ length: number; hash: string }> = [];
  for (const size of [0, 10, 99, 100, 101, 300]) {
    await Deno.writeFile(tmp.path, content.subarray(0, size));
    const fp = fingerprintOf(tmp.file, 100, 0);
    assert.equal(fp.length, Math.min(size, 100), `length at size ${size}`);
    assert.equal(fp.hash, hashBytes(content.subarray(0, fp.length)), `hash at size ${size}`);
    seen.push(fp);
  }
  // Once full, appending does not change it: the identity of a growing file is stable.
  assert.deepEqual(seen[3], seen[4]);
  assert.deepEqual(seen[4], seen[5]);
  assert.notEqual(seen[1].hash, seen[2].hash);
});

Deno.test("fingerprintOf restores the read position it is given", async () => {
  await using tmp = await openTemp(patternBytes(500));
  tmp.file.seekSync(321, Deno.SeekMode.Start);
  fingerprintOf(tmp.file, 64, 321);
  assert.equal(positionOf(tmp.file), 321);
});

interface GuardCase {
  name: string;
  fileBytes: number;
  offset: number;
  /** The bytes the guard should cover, or a literal result. */
  want: { from: number; to: number } | "" | "short";
}

const GUARD_CASES: GuardCase[] = [
  { name: "offset 0", fileBytes: 100, offset: 0, want: "" },
  { name: "an offset inside the first guard window", fileBytes: 100, offset: 10, want: { from: 0, to: 10 } },
  {
    name: "an offset exactly one window in",
    fileBytes: 200,
    offset: GUARD_BYTES,
    want: { from: 0, to: GUARD_BYTES },
  },
  {
    name: "an offset deep in the file",
    fileBytes: 1000,
    offset: 700,
    want: { from: 700 - GUARD_BYTES, to: 700 },
  },
  {
    name: "an offset at end of file",
    fileBytes: 500,
    offset: 500,
    want: { from: 500 - GUARD_BYTES, to: 500 },
  },
  { name: "an offset beyond end of file", fileBytes: 500, offset: 501, want: "short" },
  { name: "an offset in an empty file", fileBytes: 0, offset: 1, want: "short" },
];

for (const { name, fileBytes, offset, want } of GUARD_CASES) {
  Deno.test(`guardHashAt at ${name}`, async () => {
    const content = patternBytes(fileBytes);
    await using tmp = await openTemp(content);
    tmp.file.seekSync(Math.min(fileBytes, 17), Deno.SeekMode.Start);
    const restoreTo = positionOf(tmp.file);
    const got = guardHashAt(tmp.file, offset, restoreTo);
    assert.equal(got, typeof want === "string" ? want : hashBytes(content.subarray(want.from, want.to)));
    assert.equal(positionOf(tmp.file), restoreTo);
  });
}

Deno.test("guardHashAt changes when a byte just before the offset changes", async () => {
  const content = patternBytes(400);
  await using tmp = await openTemp(content);
  const before = guardHashAt(tmp.file, 300, 0);
  const changed = content.slice();
  changed[299] ^= 1;
  await Deno.writeFile(tmp.path, changed);
  assert.notEqual(guardHashAt(tmp.file, 300, 0), before);
  // A byte outside the guard window does not matter.
  changed[299] ^= 1;
  changed[300 - GUARD_BYTES - 1] ^= 1;
  await Deno.writeFile(tmp.path, changed);
  assert.equal(guardHashAt(tmp.file, 300, 0), before);
});

interface ReadAtCase {
  name: string;
  position: number;
  length: number;
  want: { from: number; to: number };
}

const READ_AT_CASES: ReadAtCase[] = [
  { name: "a range inside the file", position: 10, length: 20, want: { from: 10, to: 30 } },
  { name: "a range running past end of file", position: 90, length: 50, want: { from: 90, to: 100 } },
  { name: "a range starting at end of file", position: 100, length: 8, want: { from: 100, to: 100 } },
  { name: "a range beyond end of file", position: 150, length: 8, want: { from: 100, to: 100 } },
  { name: "an empty range", position: 5, length: 0, want: { from: 5, to: 5 } },
];

for (const { name, position, length, want } of READ_AT_CASES) {
  Deno.test(`readAt reads ${name} and restores the position`, async () => {
    const content = patternBytes(100);
    await using tmp = await openTemp(content);
    tmp.file.seekSync(42, Deno.SeekMode.Start);
    const bytes = readAt(tmp.file, position, length, 42);
    assert.deepEqual(bytes, content.subarray(want.from, want.to));
    assert.equal(positionOf(tmp.file), 42);
  });
}
