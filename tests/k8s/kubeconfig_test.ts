import assert from "node:assert/strict";
import { type Config, validateConfig } from "../../src/config/mod.ts";
import { buildEnrichment } from "../../src/enrich/mod.ts";
import {
  createHttpClient,
  K8sConnectionError,
  KubeconfigError,
  loadKubeconfig,
  resolveConnection,
  type ResolveConnectionOptions,
} from "../../src/k8s/mod.ts";
import { createAgentMetrics } from "../../src/telemetry/agent_metrics.ts";
import { KindTracker } from "../../src/telemetry/kinds.ts";
import { Logger } from "../../src/telemetry/log.ts";
import { MetricsRegistry } from "../../src/telemetry/metrics.ts";
import { FakeApiServer, makePod, testCerts, waitUntil } from "../_fakes/apiserver.ts";

/** A kubeconfig with one context; `cluster` and `user` are YAML bodies (indented by the caller). */
function kubeconfig(cluster: string, user: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    cluster,
    "users:",
    "- name: tester",
    "  user:",
    user,
    "contexts:",
    "- name: test",
    "  context: { cluster: fake, user: tester }",
    "current-context: test",
  ].join("\n");
}

async function inTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "kubeconfig_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("kubeconfig mode watches pods with the kubeconfig's server, CA data and token", async () => {
  await using server = await FakeApiServer.start({ tls: true, token: "kc-token" });
  server.addPod(makePod({ name: "p" }));
  const ca = btoa((await testCerts()).caPem);
  await inTempDir(async (dir) => {
    const file = `${dir}/config`;
    await Deno.writeTextFile(
      file,
      kubeconfig(`    server: ${server.url}\n    certificate-authority-data: ${ca}`, "    token: kc-token"),
    );
    const raw = validateConfig({ node_name: "node-a", k8s: { mode: "kubeconfig", kubeconfig: file } }, {
      env: () => undefined,
    });
    assert.ok(raw.ok);
    const config: Config = raw.value;
    const registry = new MetricsRegistry();
    const { informer } = await buildEnrichment({
      config,
      metrics: createAgentMetrics(registry),
      kinds: new KindTracker({ registry }),
      logger: new Logger({ write: () => {} }),
      env: () => undefined,
    });
    assert.ok(informer !== null);
    await informer.start(new AbortController().signal);
    try {
      await waitUntil(() => informer.health().isHealthy, "synced through the kubeconfig connection");
      assert.ok(server.requests.every((r) => r.token === "kc-token"));
    } finally {
      await informer.stop();
    }
  });
});

Deno.test("kubeconfig client certificate, key and CA files are read relative to the kubeconfig", async () => {
  const certs = await testCerts();
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/ca.pem`, certs.caPem);
    await Deno.writeTextFile(`${dir}/client.pem`, certs.clientCertPem);
    await Deno.writeTextFile(`${dir}/client-key.pem`, certs.clientKeyPem);
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig(
        "    server: https://127.0.0.1:6443\n    certificate-authority: ca.pem",
        "    client-certificate: client.pem\n    client-key: client-key.pem",
      ),
    );
    const creds = await loadKubeconfig(`${dir}/config`);
    assert.deepEqual(creds, {
      server: "https://127.0.0.1:6443",
      caPem: certs.caPem,
      certPem: certs.clientCertPem,
      keyPem: certs.clientKeyPem,
      token: null,
      insecureSkipTlsVerify: false,
    });
    const connection = await resolveConnection(
      options({ mode: "kubeconfig", kubeconfigPath: `${dir}/config` }),
    );
    assert.ok(connection !== null);
    const client = createHttpClient(connection);
    assert.ok(client !== null, "Deno accepted the client certificate and key");
    client.close();
  });
});

Deno.test("kubeconfig insecure-skip-tls-verify is reported", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig("    server: https://127.0.0.1:6443\n    insecure-skip-tls-verify: true", "    token: t"),
    );
    assert.equal((await loadKubeconfig(`${dir}/config`)).insecureSkipTlsVerify, true);
  });
});

const failures: Array<{ name: string; user: string; message: RegExp; write?: boolean }> = [
  { name: "a missing file", user: "", write: false, message: /^Cannot read kubeconfig \/.*\/config: / },
  {
    name: "an exec credential plugin",
    user: "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: aws",
    message: /user tester needs exec\/auth-provider\/basic auth, which is unsupported$/,
  },
  {
    name: "a missing client key file",
    user: "    client-certificate-data: QQ==\n    client-key: nope.pem",
    message: /^Cannot read client-key of kubeconfig .*nope\.pem: /,
  },
];

for (const c of failures) {
  Deno.test(`kubeconfig loading fails with a clear error on ${c.name}`, async () => {
    await inTempDir(async (dir) => {
      if (c.write !== false) {
        await Deno.writeTextFile(`${dir}/config`, kubeconfig("    server: https://127.0.0.1:6443", c.user));
      }
      const error = await loadKubeconfig(`${dir}/config`).catch((e) => e);
      assert.ok(error instanceof KubeconfigError, String(error));
      assert.match(error.message, c.message);
      const wrapped = await resolveConnection(
        options({ mode: "kubeconfig", kubeconfigPath: `${dir}/config` }),
      )
        .catch((e) => e);
      assert.ok(wrapped instanceof K8sConnectionError);
    });
  });
}

function options(overrides: Partial<ResolveConnectionOptions>): ResolveConnectionOptions {
  return {
    mode: "auto",
    kubeconfigPath: "",
    apiServer: "",
    tokenPath: "/nonexistent/token",
    caPath: "/nonexistent/ca.crt",
    tokenRefreshIntervalMs: 60_000,
    env: () => undefined,
    ...overrides,
  };
}
