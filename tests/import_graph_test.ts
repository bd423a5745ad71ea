/**
 * The folders of src/ import one another without a cycle (STYLE.md section 1: one direction). Each
 * folder is one node, each top-level file (main.ts, agent.ts, record.ts, ...) its own node; an edge is any
 * relative import, `import type` included, from a file of one node to a file of another.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

const SRC = resolve(new URL("../src", import.meta.url).pathname);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) out.push(...sourceFiles(path));
    else if (entry.isFile && /\.tsx?$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** The node a file belongs to: its top folder under src/, or the file itself at the top level. */
function nodeOf(file: string): string | null {
  const rel = relative(SRC, file);
  if (rel.startsWith("..")) return null; // outside src/ (e.g. the demo's test helpers)
  const [first, ...rest] = rel.split("/");
  return rest.length === 0 ? first : `${first}/`;
}

const IMPORT_RE =
  /(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|(?:^|\n)\s*import\s*["']([^"']+)["']/g;

/** Node -> nodes it imports. */
export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(SRC)) {
    const from = nodeOf(file)!;
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    const text = Deno.readTextFileSync(file);
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith(".")) continue;
      const to = nodeOf(resolve(dirname(file), spec));
      if (to !== null && to !== from) edges.add(to);
    }
  }
  return graph;
}

/** One cycle as a path `a -> b -> a`, or null. */
export function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, "open");
    stack.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) {
      if (state.get(next) === "open") return [...stack.slice(stack.indexOf(next)), next];
      if (state.get(next) === undefined) {
        const found = visit(next);
        if (found !== null) return found;
      }
    }
    stack.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of [...graph.keys()].sort()) {
    if (state.get(node) !== undefined) continue;
    const found = visit(node);
    if (found !== null) return found;
  }
  return null;
}

Deno.test("src folders import one another without a cycle", () => {
  const cycle = findCycle(folderGraph());
  assert.equal(cycle, null, `import cycle between src folders: ${cycle?.join(" -> ")}`);
});

Deno.test("import graph check sees the edges that exist (lifecycle uses telemetry, agent.ts uses tailer)", () => {
  const graph = folderGraph();
  assert.ok(graph.get("lifecycle/")?.has("telemetry/"));
  assert.ok(graph.get("agent.ts")?.has("tailer/"));
  assert.ok(graph.size >= 15, `only ${graph.size} nodes found`);
});

const CYCLE_CASES: { name: string; edges: [string, string][]; want: string[] | null }[] = [
  { name: "a chain", edges: [["a/", "b/"], ["b/", "c/"]], want: null },
  { name: "a two-folder cycle", edges: [["a/", "b/"], ["b/", "a/"]], want: ["a/", "b/", "a/"] },
  {
    name: "a cycle behind a chain",
    edges: [["a/", "b/"], ["b/", "c/"], ["c/", "b/"]],
    want: ["b/", "c/", "b/"],
  },
  { name: "a diamond", edges: [["a/", "b/"], ["a/", "c/"], ["b/", "d/"], ["c/", "d/"]], want: null },
];

for (const { name, edges, want } of CYCLE_CASES) {
  Deno.test(`findCycle reports ${want === null ? "no cycle" : "the cycle"} in ${name}`, () => {
    const graph = new Map<string, Set<string>>();
    for (const [from, to] of edges) graph.set(from, (graph.get(from) ?? new Set()).add(to));
    assert.deepEqual(findCycle(graph), want);
  });
}
