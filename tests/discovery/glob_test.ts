import assert from "node:assert/strict";
import fc from "fast-check";
import { compileGlob, compileNamePattern } from "../../src/discovery/mod.ts";

interface RootCase {
  name: string;
  pattern: string;
  want: { root: string; segments: number };
}

const ROOT_CASES: RootCase[] = [
  {
    name: "the default include",
    pattern: "/var/log/pods/*/*/*.log",
    want: { root: "/var/log/pods", segments: 3 },
  },
  { name: "a glob right under /", pattern: "/*.log", want: { root: "/", segments: 1 } },
  { name: "a pattern without glob characters", pattern: "/a/b/0.log", want: { root: "/a/b", segments: 1 } },
  { name: "a `?` in a middle segment", pattern: "/logs/x?/0.log", want: { root: "/logs", segments: 2 } },
  { name: "a class in the first segment", pattern: "/[ab]/c/*.log", want: { root: "/", segments: 3 } },
  {
    name: "a recursive segment",
    pattern: "/var/log/pods/**/*.log",
    want: { root: "/var/log/pods", segments: 2 },
  },
  { name: "a relative pattern", pattern: "logs/*.log", want: { root: "logs", segments: 1 } },
];

for (const { name, pattern, want } of ROOT_CASES) {
  Deno.test(`compileGlob finds the static root of ${name}`, () => {
    const glob = compileGlob(pattern);
    assert.equal(glob.root, want.root);
    assert.equal(glob.segments.length, want.segments);
  });
}

interface MatchCase {
  name: string;
  pattern: string;
  matches: string[];
  rejects: string[];
}

const MATCH_CASES: MatchCase[] = [
  {
    name: "the default include matches container logs only",
    pattern: "/var/log/pods/*/*/*.log",
    matches: [
      "/var/log/pods/ml_trainer-0_0f8e1a2b-1111-2222-3333-444455556666/worker/0.log",
      "/var/log/pods/kube-system_etcd-node.1_0123456789abcdef0123456789abcdef/etcd/12.log",
    ],
    rejects: [
      "/var/log/pods/ml_trainer-0_uid/worker/0.log.20240101-120000",
      "/var/log/pods/ml_trainer-0_uid/worker/0.log.20240101-120000.gz",
      "/var/log/pods/ml_trainer-0_uid/0.log",
      "/var/log/pods/ml_trainer-0_uid/worker/deeper/0.log",
      "/var/log/podsX/a/b/0.log",
      "/var/log/pods/a/b/0xlog",
    ],
  },
  {
    name: "`*` stays inside one segment",
    pattern: "/a/*.log",
    matches: ["/a/x.log", "/a/.log", "/a/x.y.log"],
    rejects: ["/a/b/x.log", "/a/x.log.1", "/b/x.log"],
  },
  {
    name: "`?` matches exactly one character but not a slash",
    pattern: "/a/?.log",
    matches: ["/a/0.log", "/a/é.log"],
    rejects: ["/a/.log", "/a/10.log", "/a//.log"],
  },
  {
    name: "`[abc]` matches one listed character",
    pattern: "/logs/[abc].log",
    matches: ["/logs/a.log", "/logs/c.log"],
    rejects: ["/logs/d.log", "/logs/ab.log", "/logs/[abc].log"],
  },
  {
    name: "`[a-c]` ranges and `[!a]` negations work",
    pattern: "/logs/[a-c][!a].log",
    matches: ["/logs/bb.log", "/logs/cz.log"],
    rejects: ["/logs/ba.log", "/logs/db.log"],
  },
  {
    name: "an unclosed `[` is a literal",
    pattern: "/logs/[a.log",
    matches: ["/logs/[a.log"],
    rejects: ["/logs/a.log"],
  },
  {
    name: "regular expression characters are literals",
    pattern: "/l+g/(x)|y$.log",
    matches: ["/l+g/(x)|y$.log"],
    rejects: ["/llg/x.log", "/l+g/(x)|yZlog"],
  },
  {
    name: "a middle `**` matches zero or more directories",
    pattern: "/root/**/0.log",
    matches: ["/root/0.log", "/root/a/0.log", "/root/a/b/c/0.log"],
    rejects: ["/root/a/1.log", "/other/a/0.log", "/root0.log"],
  },
  {
    name: "a `**` before two segments matches zero or more directories",
    pattern: "/root/**/worker/*.log",
    matches: ["/root/worker/0.log", "/root/ns_pod_uid/worker/0.log", "/root/a/b/worker/1.log"],
    rejects: ["/root/worker/a/0.log", "/root/workers/0.log"],
  },
  {
    name: "a trailing `**` matches everything below its directory",
    pattern: "/var/log/pods/kube-system_*/**",
    matches: ["/var/log/pods/kube-system_dns_uid/coredns/0.log", "/var/log/pods/kube-system_x_y/z"],
    rejects: ["/var/log/pods/kube-system_dns_uid", "/var/log/pods/ml_trainer_uid/worker/0.log"],
  },
];

for (const { name, pattern, matches, rejects } of MATCH_CASES) {
  Deno.test(`compileGlob whole-path matcher: ${name}`, () => {
    const { whole } = compileGlob(pattern);
    for (const path of matches) assert.ok(whole.test(path), `${pattern} should match ${path}`);
    for (const path of rejects) assert.ok(!whole.test(path), `${pattern} should not match ${path}`);
  });
}

interface NameCase {
  pattern: string;
  matches: string[];
  rejects: string[];
}

const NAME_CASES: NameCase[] = [
  { pattern: "kube-system", matches: ["kube-system"], rejects: ["kube-systems", "xkube-system", "kube"] },
  { pattern: "kube-*", matches: ["kube-system", "kube-"], rejects: ["kube", "my-kube-system"] },
  { pattern: "*-dev", matches: ["team.a-dev", "-dev"], rejects: ["team-dev2"] },
  { pattern: "*", matches: ["default", ""], rejects: [] },
  { pattern: "team.a", matches: ["team.a"], rejects: ["teamxa"] },
  { pattern: "ns-?", matches: ["ns-1"], rejects: ["ns-12", "ns-"] },
];

for (const { pattern, matches, rejects } of NAME_CASES) {
  Deno.test(`compileNamePattern ${JSON.stringify(pattern)} matches whole names only`, () => {
    const re = compileNamePattern(pattern);
    for (const name of matches) assert.ok(re.test(name), `${pattern} should match ${name}`);
    for (const name of rejects) assert.ok(!re.test(name), `${pattern} should not match ${name}`);
  });
}

/** Reference: do `names` (the path below the root) match `segments`, with `**` as any number of names? */
function matchNames(names: string[], segments: ReadonlyArray<RegExp | "**">): boolean {
  if (segments.length === 0) return names.length === 0;
  const [head, ...rest] = segments;
  if (head === "**") {
    // A trailing `**` needs at least one name (it matches files, not its own directory).
    const from = rest.length === 0 ? 1 : 0;
    for (let skip = from; skip <= names.length; skip++) if (matchNames(names.slice(skip), rest)) return true;
    return false;
  }
  return names.length > 0 && head.test(names[0]) && matchNames(names.slice(1), rest);
}

Deno.test("compileGlob whole-path matcher agrees with its segment matchers for any pattern and path", () => {
  const segmentArb = fc.constantFrom("a", "b", "ab", "*", "?", "[ab]", "a*", "*.log", "**");
  const nameArb = fc.constantFrom("a", "b", "ab", "ba", "x.log", "a.log");
  const pinned = Deno.env.get("FC_SEED");
  const seed = pinned === undefined ? (Math.random() * 2 ** 31) | 0 : Number(pinned);
  let matched = 0;
  try {
    fc.assert(
      fc.property(
        fc.array(segmentArb, { minLength: 1, maxLength: 4 }),
        fc.array(nameArb, { maxLength: 5 }),
        (segments, names) => {
          const glob = compileGlob(`/r/${segments.join("/")}`);
          // Literal leading segments belong to the root; the segment matchers cover what follows it.
          assert.ok(glob.root === "/r" || glob.root.startsWith("/r/"), glob.root);
          const want = matchNames(names, glob.segments);
          if (want) matched++;
          assert.equal(glob.whole.test([glob.root, ...names].join("/")), want);
        },
      ),
      { seed, numRuns: 2000 },
    );
  } catch (thrown) {
    console.error(`Property failed with seed ${seed} (replay: FC_SEED=${seed})`);
    throw thrown;
  }
  assert.ok(matched >= 50, `only ${matched} generated paths matched their pattern`);
});
