import assert from "node:assert/strict";
import { closestMatch } from "../../src/config/_suggest.ts";

const KEYS = [
  "include",
  "exclude",
  "tail.max_open_files",
  "tail.max_tracked_files",
  "tail.rotate_wait",
  "max_log_size",
];

const CASES: { name: string; word: string; want: string | undefined }[] = [
  { name: "a dropped letter", word: "tail.max_open_file", want: "tail.max_open_files" },
  { name: "a swapped pair", word: "inclued", want: "include" },
  { name: "camelCase", word: "maxLogSize", want: "max_log_size" },
  { name: "dashes for underscores", word: "max-log-size", want: "max_log_size" },
  { name: "a key at the wrong level", word: "rotate_wait", want: "tail.rotate_wait" },
  { name: "a key under the wrong section", word: "exporter.max_open_files", want: "tail.max_open_files" },
  { name: "nothing close", word: "zzzzzz", want: undefined },
  { name: "a short unrelated word", word: "ab", want: undefined },
];

for (const { name, word, want } of CASES) {
  Deno.test(`closestMatch suggests for ${name}`, () => {
    assert.equal(closestMatch(word, KEYS), want);
  });
}

Deno.test("closestMatch finds nothing among no candidates", () => {
  assert.equal(closestMatch("include", []), undefined);
});
