import assert from "node:assert/strict";
import { K8sConnectionError, resolveConnection, type ResolveConnectionOptions } from "../../src/k8s/mod.ts";
import { testCerts } from "../_fakes/apiserver.ts";

async function withServiceAccount<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "connection_sa_" });
  try {
    await Deno.writeTextFile(`${dir}/token`, "sa-token\n");
    await Deno.writeTextFile(`${dir}/ca.crt`, (await testCerts()).caPem);
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function options(dir: string, overrides: Partial<ResolveConnectionOptions>): ResolveConnectionOptions {
  return {
    mode: "auto",
    kubeconfigPath: "",
    apiServer: "",
    tokenPath: `${dir}/token`,
    caPath: `${dir}/ca.crt`,
    tokenRefreshIntervalMs: 60_000,
    env: () => undefined,
    ...overrides,
  };
}

const cases: Array<{ name: string; overrides: Partial<ResolveConnectionOptions>; want: string | null }> = [
  { name: "off is off", overrides: { mode: "off", kubeconfigPath: "/x" }, want: null },
  { name: "auto with nothing set is off", overrides: {}, want: null },
  {
    name: "auto with KUBERNETES_SERVICE_HOST is in-cluster by the service's name, not its address",
    overrides: { env: (n) => ({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "6443" })[n] },
    want: "in_cluster https://kubernetes.default.svc:443",
  },
  {
    name: "in_cluster without KUBERNETES_SERVICE_HOST still uses the service's name",
    overrides: { mode: "in_cluster" },
    want: "in_cluster https://kubernetes.default.svc:443",
  },
  {
    name: "k8s.api_server names the service by host name",
    overrides: { mode: "in_cluster", apiServer: "https://kubernetes.default.svc" },
    want: "in_cluster https://kubernetes.default.svc",
  },
  {
    name: "a bare k8s.api_server host gets https",
    overrides: { apiServer: "kubernetes.default.svc:443" },
    want: "in_cluster https://kubernetes.default.svc:443",
  },
];

for (const c of cases) {
  Deno.test(`connection: ${c.name}`, async () => {
    await withServiceAccount(async (dir) => {
      const connection = await resolveConnection(options(dir, c.overrides));
      assert.equal(connection === null ? null : `${connection.mode} ${connection.baseUrl}`, c.want);
      if (connection !== null) {
        assert.equal(await connection.token?.token(), "sa-token");
        assert.equal(connection.caCerts.length, 1);
      }
    });
  });
}

Deno.test("connection in cluster fails clearly without a readable CA bundle", async () => {
  await withServiceAccount(async (dir) => {
    const error = await resolveConnection(options(dir, { apiServer: "https://x", caPath: `${dir}/none` }))
      .catch((e) => e);
    assert.ok(error instanceof K8sConnectionError);
    assert.match(error.message, /^Cannot read API server CA bundle: .*\/none: /);
  });
});

Deno.test("connection in kubeconfig mode fails clearly without a kubeconfig path", async () => {
  await withServiceAccount(async (dir) => {
    await assert.rejects(
      resolveConnection(options(dir, { mode: "kubeconfig" })),
      /^K8sConnectionError: Cannot use kubeconfig mode: no kubeconfig \(--kubeconfig or KUBECONFIG\)$/,
    );
  });
});
