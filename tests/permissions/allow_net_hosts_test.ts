import assert from "node:assert/strict";
import {
  checkNetHost,
  NetHostSyntaxError,
  parseNetHostList,
  withNetHosts,
} from "../../src/permissions/allow_net_hosts.ts";

/** Entries and whether Deno 2.9.6 accepts them in --allow-net / a permission set (measured). */
const HOST_CASES: { entry: string; want: "ok" | RegExp }[] = [
  { entry: "otel.example.com:4318", want: "ok" },
  { entry: "otel.example.com", want: "ok" },
  { entry: "*.svc.cluster.local:4318", want: "ok" },
  { entry: "*.svc", want: "ok" },
  { entry: "10.0.0.0/8:443", want: "ok" },
  { entry: "127.0.0.1", want: "ok" },
  { entry: "[::1]:80", want: "ok" },
  { entry: "[fd00::1]", want: "ok" },
  { entry: "*.svc.cluster.local:4317-4318", want: /port ranges are not supported/ },
  { entry: "*:80", want: /a wildcard must be one leading `\*\.`/ },
  { entry: "foo.*.svc", want: /a wildcard must be one leading/ },
  { entry: "fd00::/8", want: /IPv6 addresses need brackets/ },
  { entry: "[fd00::]/8", want: /IPv6 CIDR ranges are not supported/ },
  { entry: "host:99999", want: /port 99999 is not 0\.\.65535/ },
  { entry: "10.0.0.300", want: /not a host name|octet/ },
  { entry: "10.0.0.0/40", want: /prefix length is above 32/ },
];

for (const { entry, want } of HOST_CASES) {
  Deno.test(`checkNetHost ${want === "ok" ? "accepts" : "refuses"} ${entry}`, () => {
    if (want === "ok") checkNetHost(entry);
    else {
      assert.throws(
        () => checkNetHost(entry),
        (err: unknown) =>
          err instanceof NetHostSyntaxError && err.message.startsWith(`Invalid net host "${entry}": `) &&
          want.test(err.message),
      );
    }
  });
}

Deno.test("withNetHosts appends new hosts to the agent set once and keeps the rest of deno.json", () => {
  const before = JSON.stringify({
    tasks: { a: "b" },
    permissions: { agent: { net: ["x:1"], read: ["/r"] } },
  });
  const after = JSON.parse(withNetHosts(before, ["x:1", "otel.example.com:4318", "otel.example.com:4318"]));
  assert.deepEqual(after, {
    tasks: { a: "b" },
    permissions: { agent: { net: ["x:1", "otel.example.com:4318"], read: ["/r"] } },
  });
});

Deno.test("withNetHosts refuses a set whose net is not a list", () => {
  const text = JSON.stringify({ permissions: { agent: { net: true } } });
  assert.throws(() => withNetHosts(text, ["a:1"]), /permissions\.agent\.net is not a list/);
});

Deno.test("parseNetHostList splits on commas and spaces and drops empty entries", () => {
  assert.deepEqual(parseNetHostList(" a:1, b:2 ,,c "), ["a:1", "b:2", "c"]);
  assert.deepEqual(parseNetHostList(""), []);
});

Deno.test("the repository's agent permission set passes the net host check", () => {
  const config = JSON.parse(Deno.readTextFileSync(new URL("../../deno.json", import.meta.url)));
  for (const host of config.permissions.agent.net) checkNetHost(host);
});
