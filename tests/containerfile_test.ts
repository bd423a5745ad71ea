/**
 * Static checks of the Containerfile (no container engine and no `deno compile` here: its runtime download
 * needs the internet): locked dependencies, the permission set embedded, every asset the binary reads
 * embedded with `--include` and present on disk, a distroless runtime, the build argument for extra hosts.
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;
const CONTAINERFILE = Deno.readTextFileSync(`${ROOT}Containerfile`);
const DENO_JSON = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));

/** Instructions with their continuation lines joined. */
const INSTRUCTIONS = CONTAINERFILE.replace(/\\\n\s*/g, " ").split("\n").filter((l) => /^[A-Z]+ /.test(l));

function compileCommand(text: string): string {
  const m = /deno compile [^&\n]*/.exec(text);
  assert.ok(m !== null, "no deno compile command");
  return m[0];
}

Deno.test("Containerfile installs the locked dependencies before compiling", () => {
  const install = INSTRUCTIONS.findIndex((l) => l.startsWith("RUN deno install --frozen"));
  const compile = INSTRUCTIONS.findIndex((l) => l.includes("deno compile"));
  assert.ok(install >= 0 && compile > install, INSTRUCTIONS.join("\n"));
  assert.ok(INSTRUCTIONS.some((l) => /^COPY deno\.json deno\.lock /.test(l)));
  assert.match(compileCommand(INSTRUCTIONS.join("\n")), /--frozen/);
});

Deno.test("Containerfile compiles with the agent permission set, like deno task compile", () => {
  const image = compileCommand(INSTRUCTIONS.join("\n"));
  const task = compileCommand(DENO_JSON.tasks.compile);
  assert.match(image, /-P=agent/);
  const includes = (cmd: string): string[] => [...cmd.matchAll(/--include (\S+)/g)].map((m) => m[1]).sort();
  assert.deepEqual(includes(image), includes(task), "the image and deno task compile embed the same assets");
});

Deno.test("Containerfile embeds every WebAssembly file the agent's dependencies read, and each exists", () => {
  const included = [...compileCommand(INSTRUCTIONS.join("\n")).matchAll(/--include (\S+)/g)].map((m) => m[1]);
  const wasm: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory && !entry.isSymlink) walk(path);
      else if (entry.isFile && entry.name.endsWith(".wasm")) wasm.push(path);
    }
  };
  walk("node_modules/.deno");
  assert.ok(wasm.length > 0, "no .wasm under node_modules/.deno: run deno install --frozen");
  assert.deepEqual(wasm.filter((p) => !included.includes(p)), [], "WebAssembly files not embedded");
  for (const path of included) assert.ok(Deno.statSync(`${ROOT}${path}`).isFile, `${path} does not exist`);
});

Deno.test("Containerfile runs on distroless as a non-root default user with no shell entrypoint", () => {
  assert.match(CONTAINERFILE, /^ARG RUNTIME_IMAGE=gcr\.io\/distroless\/cc-debian12:nonroot$/m);
  assert.match(CONTAINERFILE, /^FROM \$\{RUNTIME_IMAGE\}$/m);
  assert.match(CONTAINERFILE, /^USER 65532:65532$/m);
  assert.match(CONTAINERFILE, /^ENTRYPOINT \["\/containerstdout"\]$/m);
});

Deno.test("Containerfile takes extra allowed hosts as a build argument and adds them to the set", () => {
  assert.match(CONTAINERFILE, /^ARG ALLOWED_NET_HOSTS=""$/m);
  const run = INSTRUCTIONS.find((l) => l.includes("allow_net_hosts.ts"));
  assert.ok(run !== undefined && run.includes('"${ALLOWED_NET_HOSTS}"'), "the argument reaches the tool");
  assert.ok(Deno.statSync(`${ROOT}src/permissions/allow_net_hosts.ts`).isFile);
  const addHosts = INSTRUCTIONS.findIndex((l) => l.includes("allow_net_hosts.ts"));
  assert.ok(
    addHosts < INSTRUCTIONS.findIndex((l) => l.includes("deno compile")),
    "hosts added before compile",
  );
});

Deno.test("every dynamic import in src/ names a literal module, so deno compile embeds it", () => {
  const wrong: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of Deno.readDirSync(`${ROOT}${dir}`)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ts")) {
        const text = Deno.readTextFileSync(`${ROOT}${path}`);
        for (const m of text.matchAll(/\bimport\s*\(\s*([^)]*)\)/g)) {
          if (!/^["'][^"'`$]+["']$/.test(m[1].trim())) wrong.push(`${path}: import(${m[1]})`);
        }
      }
    }
  };
  walk("src");
  assert.deepEqual(wrong, []);
});
