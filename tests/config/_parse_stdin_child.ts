/**
 * Child process for load_test.ts: parses the config YAML on stdin under the permissions it was started
 * with and prints the result as JSON.
 *
 * @module
 */

import { parseConfigYaml } from "../../src/config/load.ts";

const text = await new Response(Deno.stdin.readable).text();
const result = parseConfigYaml(text, { env: (name) => Deno.env.get(name), sourceName: "stdin" });
console.log(JSON.stringify(result.ok ? { ok: true } : result));
