import assert from "node:assert/strict";
import type { CursorValue } from "../../src/cursor/mod.ts";
import { findByIdentity, hasHead } from "../../src/tailer/cursor_sync.ts";
import { hashBytes } from "../../src/tailer/file_identity.ts";

const encoder = new TextEncoder();

function cursorFor(path: string, head: string, offset: number): CursorValue {
  const info = Deno.statSync(path);
  return {
    path,
    dev: info.dev ?? 0,
    ino: info.ino ?? 0,
    offset,
    fingerprintLength: encoder.encode(head).length,
    fingerprintHash: hashBytes(encoder.encode(head)),
    guardHash: "",
    sizeBytes: info.size,
    isDrained: false,
    updatedAtMs: 0,
  };
}

Deno.test("findByIdentity follows a file renamed while the agent was down", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/0.log`, "first line\nsecond line\n");
    const cursor = cursorFor(`${dir}/0.log`, "first line\n", 11);
    await Deno.rename(`${dir}/0.log`, `${dir}/0.log.20260101-000000`);
    await Deno.writeTextFile(`${dir}/0.log`, "a new file\n");
    const found = findByIdentity(cursor, [`${dir}/0.log`, `${dir}/0.log.20260101-000000`]);
    assert.equal(found?.path, `${dir}/0.log.20260101-000000`);
    assert.equal(found?.sizeBytes, 23);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findByIdentity rejects an inode that now holds another file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/0.log`, "first line\n");
    const cursor = cursorFor(`${dir}/0.log`, "first line\n", 11);
    // Same inode, different head: what a reused inode looks like.
    await Deno.writeTextFile(`${dir}/0.log`, "other file\n");
    assert.equal(findByIdentity(cursor, [`${dir}/0.log`]), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findByIdentity returns null when no candidate exists", () => {
  const cursor: CursorValue = {
    path: "/nonexistent/0.log",
    dev: 1,
    ino: 2,
    offset: 0,
    fingerprintLength: 0,
    fingerprintHash: "",
    guardHash: "",
    sizeBytes: 10,
    isDrained: false,
    updatedAtMs: 0,
  };
  assert.equal(findByIdentity(cursor, ["/nonexistent/0.log"]), null);
});

Deno.test("hasHead compares head bytes and answers the given default for an unreadable file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/f`, "abcdef");
    const head = { length: 3, hash: hashBytes(encoder.encode("abc")) };
    assert.equal(hasHead(`${dir}/f`, head, false), true);
    assert.equal(hasHead(`${dir}/f`, { length: 3, hash: hashBytes(encoder.encode("xyz")) }, true), false);
    assert.equal(hasHead(`${dir}/missing`, head, true), true);
    assert.equal(hasHead(`${dir}/missing`, head, false), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
