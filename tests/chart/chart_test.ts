import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { type Config, CONFIG_SCHEMA, parseConfigYaml } from "../../src/config/mod.ts";
import { REPO_ROOT, runTool, runToolOk } from "../_helpers/validator_tools.ts";

// ---------------------------------------------------------------------------------------------------------
// values.yaml `config:` against CONFIG_SCHEMA

/** Values the chart sets on purpose to something other than the agent's default. */
const CHART_OVERRIDES: Record<string, unknown> = {
  // Prometheus scrapes the pod IP; the agent alone defaults to loopback.
  "telemetry.listen": "0.0.0.0:9464",
};

type Tree = Record<string, unknown>;

function isPlainObject(value: unknown): value is Tree {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readValues(): Tree {
  return parse(Deno.readTextFileSync(join(REPO_ROOT, "chart/values.yaml"))) as Tree;
}

/** Dotted keys of a nested config tree; a schema key is a leaf even when its value is a mapping. */
function flattenConfig(tree: Tree, schemaKeys: ReadonlySet<string>, prefix = ""): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [name, value] of Object.entries(tree)) {
    const key = prefix === "" ? name : `${prefix}.${name}`;
    const isGroup = !schemaKeys.has(key) && isPlainObject(value) && Object.keys(value).length > 0;
    if (!isGroup) {
      out.set(key, value);
      continue;
    }
    for (const [k, v] of flattenConfig(value as Tree, schemaKeys, key)) out.set(k, v);
  }
  return out;
}

const SCHEMA_KEYS: ReadonlySet<string> = new Set(CONFIG_SCHEMA.map((spec) => spec.key));

function valuesConfig(): Map<string, unknown> {
  const config = readValues().config;
  assert.ok(isPlainObject(config), "chart/values.yaml has no config: mapping");
  return flattenConfig(config, SCHEMA_KEYS);
}

Deno.test("chart values config lists every key of CONFIG_SCHEMA", () => {
  const values = valuesConfig();
  assert.deepEqual(CONFIG_SCHEMA.map((s) => s.key).filter((key) => !values.has(key)), []);
});

Deno.test("chart values config has no key that CONFIG_SCHEMA lacks", () => {
  assert.deepEqual([...valuesConfig().keys()].filter((key) => !SCHEMA_KEYS.has(key)), []);
});

Deno.test("chart values config holds each schema default except the listed chart overrides", () => {
  const values = valuesConfig();
  const wrong = CONFIG_SCHEMA.filter((spec) => values.has(spec.key))
    .map((spec) => {
      const want = Object.hasOwn(CHART_OVERRIDES, spec.key) ? CHART_OVERRIDES[spec.key] : spec.default;
      return { key: spec.key, want, got: values.get(spec.key) };
    })
    .filter(({ want, got }) => JSON.stringify(want) !== JSON.stringify(got));
  assert.deepEqual(wrong, []);
});

Deno.test("chart overrides name schema keys whose default differs", () => {
  for (const [key, value] of Object.entries(CHART_OVERRIDES)) {
    const spec = CONFIG_SCHEMA.find((s) => s.key === key);
    assert.ok(spec !== undefined, `override ${key} is not a schema key`);
    assert.notDeepEqual(spec.default, value, `override ${key} equals the default; drop it from the list`);
  }
});

// ---------------------------------------------------------------------------------------------------------
// helm lint + helm template

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

const RELEASE = "logs-agent";
const NAMESPACE = "observability";
const FULL_SETS = ["prometheusRule.enabled=true", "podMonitor.enabled=true"];

function setArgs(sets: readonly string[]): string[] {
  return sets.flatMap((s) => ["--set", s]);
}

const renders = new Map<string, Promise<{ yaml: string; manifests: Manifest[] }>>();

/** `helm template` of the chart with `--set` values; rendered once per distinct set. */
function render(sets: readonly string[] = []): Promise<{ yaml: string; manifests: Manifest[] }> {
  const key = sets.join("\n");
  let rendered = renders.get(key);
  if (rendered === undefined) {
    const args = ["template", RELEASE, "chart", "--namespace", NAMESPACE, ...setArgs(sets)];
    rendered = runToolOk("helm", args).then((yaml) => ({
      yaml,
      manifests: parseAllDocuments(yaml).map((d) => d.toJS() as Manifest).filter((m) => m !== null),
    }));
    renders.set(key, rendered);
  }
  return rendered;
}

function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `rendered ${found.length} ${kind} objects`);
  return found[0];
}

const LINT_CASES: { name: string; sets: string[] }[] = [
  { name: "default values", sets: [] },
  { name: "every optional object enabled", sets: FULL_SETS },
  {
    name: "an existing service account and no RBAC",
    sets: ["serviceAccount.create=false", "rbac.create=false"],
  },
  { name: "the Event watch enabled", sets: ["config.events.enabled=true"] },
];

for (const { name, sets } of LINT_CASES) {
  Deno.test(`helm lint --strict passes the chart with ${name}`, async () => {
    const result = await runTool("helm", ["lint", "--strict", "chart", ...setArgs(sets)]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.doesNotMatch(result.stdout, /\[(WARNING|ERROR)\]/);
  });
}

const RENDER_CASES: { name: string; sets: string[]; kinds: string[] }[] = [
  {
    name: "default values",
    sets: [],
    kinds: ["ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "DaemonSet"],
  },
  {
    name: "every optional object enabled",
    sets: FULL_SETS,
    kinds: [
      "ServiceAccount",
      "ConfigMap",
      "ClusterRole",
      "ClusterRoleBinding",
      "DaemonSet",
      "PodMonitor",
      "PrometheusRule",
    ],
  },
  {
    name: "an existing service account and no RBAC",
    sets: ["serviceAccount.create=false", "serviceAccount.name=logs", "rbac.create=false"],
    kinds: ["ConfigMap", "DaemonSet"],
  },
];

for (const { name, sets, kinds } of RENDER_CASES) {
  Deno.test(`helm template renders exactly the expected objects with ${name}`, async () => {
    const { manifests } = await render(sets);
    assert.deepEqual(manifests.map((m) => m.kind).sort(), [...kinds].sort());
    for (const m of manifests) {
      if (m.kind.startsWith("Cluster")) continue;
      assert.equal(m.metadata.namespace, NAMESPACE, `${m.kind} ${m.metadata.name} namespace`);
    }
  });
}

Deno.test("helm template fails with a clear message when config.telemetry.listen has no port", async () => {
  const args = ["template", RELEASE, "chart", "--set", "config.telemetry.listen=localhost"];
  const result = await runTool("helm", args);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Invalid config\.telemetry\.listen: "localhost" has no port/);
});

// ---------------------------------------------------------------------------------------------------------
// kubectl client-side validation against a fake API server that only answers discovery

/** What the fake API server says it serves: enough for kubectl to map every kind the chart renders. */
const API_RESOURCES: {
  groupVersion: string;
  resources: { name: string; kind: string; namespaced: boolean }[];
}[] = [
  {
    groupVersion: "v1",
    resources: [
      { name: "configmaps", kind: "ConfigMap", namespaced: true },
      { name: "serviceaccounts", kind: "ServiceAccount", namespaced: true },
      { name: "pods", kind: "Pod", namespaced: true },
    ],
  },
  { groupVersion: "apps/v1", resources: [{ name: "daemonsets", kind: "DaemonSet", namespaced: true }] },
  {
    groupVersion: "rbac.authorization.k8s.io/v1",
    resources: [
      { name: "clusterroles", kind: "ClusterRole", namespaced: false },
      { name: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false },
    ],
  },
  {
    groupVersion: "monitoring.coreos.com/v1",
    resources: [
      { name: "podmonitors", kind: "PodMonitor", namespaced: true },
      { name: "prometheusrules", kind: "PrometheusRule", namespaced: true },
    ],
  },
];

function discoveryResponse(path: string): unknown {
  if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] };
  if (path === "/apis") {
    const groups = API_RESOURCES.filter((g) => g.groupVersion.includes("/")).map((g) => {
      const [name, version] = g.groupVersion.split("/");
      const gv = { groupVersion: g.groupVersion, version };
      return { name, versions: [gv], preferredVersion: gv };
    });
    return { kind: "APIGroupList", apiVersion: "v1", groups };
  }
  const group = API_RESOURCES.find((g) =>
    path === (g.groupVersion === "v1" ? "/api/v1" : `/apis/${g.groupVersion}`)
  );
  if (group === undefined) return undefined;
  const resources = group.resources.map((r) => ({
    ...r,
    singularName: r.kind.toLowerCase(),
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
  }));
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group.groupVersion, resources };
}

/** Runs `kubectl create --dry-run=client` on `yaml` with a fake discovery server on loopback. */
async function kubectlDryRun(yaml: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "chart_test_kubectl_" });
  try {
    await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const body = discoveryResponse(new URL(req.url).pathname);
      if (body !== undefined) return Response.json(body);
      return Response.json({ kind: "Status", apiVersion: "v1", status: "Failure", code: 404 }, {
        status: 404,
      });
    });
    const kubeconfig = join(dir, "kubeconfig");
    await Deno.writeTextFile(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "fake", cluster: { server: `http://127.0.0.1:${server.addr.port}` } }],
        users: [{ name: "fake", user: {} }],
        contexts: [{ name: "fake", context: { cluster: "fake", user: "fake" } }],
        "current-context": "fake",
      }),
    );
    // --validate=false: schema validation would fetch the OpenAPI documents of a real API server. Field
    // names are checked against the client library's models instead (below).
    const args = [
      "create",
      "--dry-run=client",
      "--validate=false",
      "-o",
      "name",
      "-f",
      "-",
      "--kubeconfig",
      kubeconfig,
      "--cache-dir",
      join(dir, "cache"),
    ];
    return await runTool("kubectl", args, { stdin: yaml, env: { HOME: dir, KUBECONFIG: kubeconfig } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("kubectl accepts every object the chart renders in a client-side dry run", async () => {
  const { yaml, manifests } = await render(FULL_SETS);
  const result = await kubectlDryRun(yaml);
  assert.equal(result.code, 0, result.stderr);
  // `-o name` prints `<resource>.<group>/<name>` per object, as kubectl mapped it through discovery.
  const want = manifests.map((m) => {
    const group = m.apiVersion.includes("/") ? `.${m.apiVersion.split("/")[0]}` : "";
    return `${m.kind.toLowerCase()}${group}/${m.metadata.name}`;
  });
  assert.deepEqual(result.stdout.trim().split("\n").sort(), want.sort());
});

Deno.test("kubectl dry run rejects an object of a kind the API does not serve", async () => {
  const result = await kubectlDryRun("apiVersion: apps/v1\nkind: DaemonSett\nmetadata:\n  name: x\n");
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /DaemonSett/);
});

// ---------------------------------------------------------------------------------------------------------
// Field names against the Kubernetes models of @kubernetes/client-node (generated from the OpenAPI spec)

type AttributeMap = { baseName: string; type: string }[];
const MODELS = await import("@kubernetes/client-node/dist/gen/models/ObjectSerializer.js") as Record<
  string,
  { getAttributeTypeMap?: () => AttributeMap } | undefined
>;

const MODEL_OF_KIND: Record<string, string> = {
  ConfigMap: "V1ConfigMap",
  ServiceAccount: "V1ServiceAccount",
  ClusterRole: "V1ClusterRole",
  ClusterRoleBinding: "V1ClusterRoleBinding",
  DaemonSet: "V1DaemonSet",
};
/** Custom resources of prometheus-operator: the client has no models for them. */
const KINDS_WITHOUT_MODEL = new Set(["PodMonitor", "PrometheusRule"]);

/** Every field of `value` that the model `type` does not have, and every value of the wrong shape. */
function fieldProblems(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined || type === "any") return [];
  const list = /^Array<(.+)>$/.exec(type);
  if (list !== null) {
    if (!Array.isArray(value)) return [`${path}: expected a list`];
    return value.flatMap((item, i) => fieldProblems(item, list[1], `${path}[${i}]`));
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map !== null) {
    if (!isPlainObject(value)) return [`${path}: expected a mapping`];
    return Object.entries(value).flatMap(([k, v]) => fieldProblems(v, map[1], `${path}.${k}`));
  }
  const scalarTypes: Record<string, string[]> = {
    string: ["string"],
    number: ["number"],
    boolean: ["boolean"],
    Date: ["string"],
    IntOrString: ["string", "number"],
  };
  if (scalarTypes[type] !== undefined) {
    return scalarTypes[type].includes(typeof value) ? [] : [`${path}: expected ${type}, got ${typeof value}`];
  }
  const attributes = MODELS[type]?.getAttributeTypeMap?.();
  assert.ok(attributes !== undefined, `no model ${type} for ${path}`);
  if (!isPlainObject(value)) return [`${path}: expected an object (${type})`];
  const fieldTypes = new Map(attributes.map((a) => [a.baseName, a.type]));
  return Object.entries(value).flatMap(([k, v]) => {
    const fieldType = fieldTypes.get(k);
    if (fieldType === undefined) return [`${path}.${k}: no such field in ${type}`];
    return fieldProblems(v, fieldType, `${path}.${k}`);
  });
}

Deno.test("field check reports misspelled and misshapen fields", () => {
  const ds = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "x", labels: { a: 1 } },
    spec: {},
  };
  const template = {
    spec: { containers: [{ name: "a", securityContext: { readOnlyRootFileSystem: true } }] },
  };
  Object.assign(ds.spec, { template });
  assert.deepEqual(fieldProblems(ds, "V1DaemonSet", "DaemonSet"), [
    "DaemonSet.metadata.labels.a: expected string, got number",
    "DaemonSet.spec.template.spec.containers[0].securityContext.readOnlyRootFileSystem: no such field in " +
    "V1SecurityContext",
  ]);
});

Deno.test("every rendered object uses only fields its Kubernetes model has", async () => {
  const { manifests } = await render(FULL_SETS);
  for (const m of manifests) {
    if (KINDS_WITHOUT_MODEL.has(m.kind)) continue;
    const model = MODEL_OF_KIND[m.kind];
    assert.ok(model !== undefined, `no model listed for kind ${m.kind}`);
    assert.deepEqual(fieldProblems(m, model, `${m.kind}/${m.metadata.name}`), []);
  }
});

// ---------------------------------------------------------------------------------------------------------
// The rendered agent: DaemonSet, ConfigMap, RBAC, monitoring

interface Container {
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  startupProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
}

interface PodSpec {
  serviceAccountName: string;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds: number;
  securityContext?: { runAsUser?: number };
  containers: Container[];
  volumes: { name: string; hostPath?: { path: string; type: string }; configMap?: { name: string } }[];
  tolerations?: { operator?: string }[];
}

interface Agent {
  pod: PodSpec;
  container: Container;
  podAnnotations: Record<string, string>;
  config: Config;
  manifests: Manifest[];
}

const PERMISSIONS = (JSON.parse(Deno.readTextFileSync(join(REPO_ROOT, "deno.json"))) as {
  permissions: { agent: { read: string[]; write: string[] } };
}).permissions.agent;
/** Host paths of the permission set; relative entries name files inside the repo that `deno compile` embeds. */
const HOST_READ_PATHS = PERMISSIONS.read.filter((p) => p.startsWith("/"));
const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** Writable for the runtime's code cache only; the agent's own permission set cannot write there. */
const RUNTIME_SCRATCH_DIR = "/tmp";

async function renderAgent(sets: readonly string[] = FULL_SETS): Promise<Agent> {
  const { manifests } = await render(sets);
  const ds = only(manifests, "DaemonSet") as Manifest & {
    spec: { template: { metadata: { annotations: Record<string, string> }; spec: PodSpec } };
  };
  const pod = ds.spec.template.spec;
  assert.equal(pod.containers.length, 1);
  const configMap = only(manifests, "ConfigMap") as Manifest & { data: Record<string, string> };
  const result = parseConfigYaml(configMap.data["config.yaml"], {
    env: (name) => name === "K8S_NODE_NAME" ? "node-a" : undefined,
  });
  assert.ok(result.ok, `rendered config is invalid: ${JSON.stringify(!result.ok && result.errors)}`);
  const podAnnotations = ds.spec.template.metadata.annotations;
  return { pod, container: pod.containers[0], podAnnotations, config: result.value, manifests };
}

function mountOf(agent: Agent, mountPath: string): { name: string; readOnly?: boolean } {
  const mount = agent.container.volumeMounts.find((m) => m.mountPath === mountPath);
  assert.ok(mount !== undefined, `nothing is mounted at ${mountPath}`);
  return mount;
}

function volumeOf(agent: Agent, name: string): PodSpec["volumes"][number] {
  const volume = agent.pod.volumes.find((v) => v.name === name);
  assert.ok(volume !== undefined, `no volume ${name}`);
  return volume;
}

const AGENT_CASES: { name: string; check: (agent: Agent) => void }[] = [
  {
    name: "mounts the node's /var/log/pods read-only from a hostPath directory",
    check: (agent) => {
      const mount = mountOf(agent, "/var/log/pods");
      assert.equal(mount.readOnly, true);
      assert.deepEqual(volumeOf(agent, mount.name).hostPath, { path: "/var/log/pods", type: "Directory" });
    },
  },
  {
    name: "keeps the cursor store on a writable hostPath that survives the pod",
    check: (agent) => {
      const mount = mountOf(agent, dirname(agent.config.cursor.path));
      assert.notEqual(mount.readOnly, true);
      const hostPath = volumeOf(agent, mount.name).hostPath;
      assert.deepEqual(hostPath, { path: "/var/lib/containerstdout", type: "DirectoryOrCreate" });
    },
  },
  {
    name: "reads its config from the release's ConfigMap",
    check: (agent) => {
      assert.deepEqual(agent.container.args, ["--config", "/etc/containerstdout/config.yaml"]);
      const mount = mountOf(agent, "/etc/containerstdout");
      assert.equal(mount.readOnly, true);
      assert.deepEqual(volumeOf(agent, mount.name).configMap, {
        name: only(agent.manifests, "ConfigMap").metadata.name,
      });
    },
  },
  {
    name: "mounts every path the agent permission set reads, and writes nowhere else",
    check: (agent) => {
      for (const path of HOST_READ_PATHS) {
        if (path === SERVICE_ACCOUNT_DIR) assert.equal(agent.pod.automountServiceAccountToken, true);
        else mountOf(agent, path);
      }
      const writable = agent.container.volumeMounts.filter((m) => m.readOnly !== true).map((m) =>
        m.mountPath
      );
      assert.deepEqual(writable.sort(), [...PERMISSIONS.write, RUNTIME_SCRATCH_DIR].sort());
    },
  },
  {
    name: "gets K8S_NODE_NAME from the downward API",
    check: (agent) => {
      const env = agent.container.env?.find((e) => e.name === "K8S_NODE_NAME");
      assert.deepEqual(env?.valueFrom, { fieldRef: { fieldPath: "spec.nodeName" } });
    },
  },
  {
    name: "exposes the telemetry listener's port as containerPort metrics",
    check: (agent) => {
      assert.equal(agent.config.telemetry.listen, "0.0.0.0:9464");
      assert.deepEqual(agent.container.ports?.find((p) => p.name === "metrics")?.containerPort, 9464);
    },
  },
  {
    name: "probes /healthz for liveness and startup and /readyz for readiness on the metrics port",
    check: (agent) => {
      assert.deepEqual(agent.container.livenessProbe?.httpGet, { path: "/healthz", port: "metrics" });
      assert.deepEqual(agent.container.startupProbe?.httpGet, { path: "/healthz", port: "metrics" });
      assert.deepEqual(agent.container.readinessProbe?.httpGet, { path: "/readyz", port: "metrics" });
    },
  },
  {
    name: "requests CPU and memory and limits memory but not CPU",
    check: (agent) => {
      const resources = agent.container.resources;
      assert.ok(resources?.requests?.cpu && resources.requests.memory, "CPU and memory requests");
      assert.ok(resources.limits?.memory, "a memory limit");
      assert.equal(resources.limits.cpu, undefined);
    },
  },
  {
    name: "runs as uid 0 with every capability dropped and a read-only root filesystem",
    check: (agent) => {
      assert.equal(agent.pod.securityContext?.runAsUser, 0);
      const sc = agent.container.securityContext;
      assert.deepEqual(sc?.capabilities, { drop: ["ALL"] });
      assert.equal(sc?.readOnlyRootFilesystem, true);
      assert.equal(sc?.allowPrivilegeEscalation, false);
      assert.equal(sc?.privileged, false);
    },
  },
  {
    name: "gives shutdown more time than config.shutdown_timeout",
    check: (agent) =>
      assert.ok(agent.pod.terminationGracePeriodSeconds * 1000 > agent.config.shutdownTimeoutMs),
  },
  {
    name: "tolerates every taint so tainted nodes are covered",
    check: (agent) =>
      assert.ok(agent.pod.tolerations?.some((t) => t.operator === "Exists" && Object.keys(t).length === 1)),
  },
  {
    name: "runs as the service account bound to a pods get/list/watch ClusterRole",
    check: (agent) => {
      const sa = only(agent.manifests, "ServiceAccount");
      assert.equal(agent.pod.serviceAccountName, sa.metadata.name);
      const role = only(agent.manifests, "ClusterRole") as Manifest & { rules: unknown[] };
      assert.deepEqual(role.rules, [{
        apiGroups: [""],
        resources: ["pods"],
        verbs: ["get", "list", "watch"],
      }]);
      const binding = only(agent.manifests, "ClusterRoleBinding") as Manifest & {
        roleRef: { name: string };
        subjects: unknown[];
      };
      assert.equal(binding.roleRef.name, role.metadata.name);
      assert.deepEqual(binding.subjects, [{
        kind: "ServiceAccount",
        name: sa.metadata.name,
        namespace: NAMESPACE,
      }]);
    },
  },
];

for (const { name, check } of AGENT_CASES) {
  Deno.test(`chart DaemonSet ${name}`, async () => check(await renderAgent()));
}

const EVENT_RBAC_CASES: { name: string; sets: string[]; wantEventsRule: boolean }[] = [
  { name: "without config.events.enabled", sets: [], wantEventsRule: false },
  { name: "with config.events.enabled", sets: ["config.events.enabled=true"], wantEventsRule: true },
];

for (const { name, sets, wantEventsRule } of EVENT_RBAC_CASES) {
  Deno.test(`chart ClusterRole grants list/watch on events only when asked: ${name}`, async () => {
    const agent = await renderAgent(sets);
    assert.equal(agent.config.events.enabled, wantEventsRule);
    const role = only(agent.manifests, "ClusterRole") as Manifest & { rules: unknown[] };
    const pods = { apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] };
    const events = { apiGroups: [""], resources: ["events"], verbs: ["list", "watch"] };
    assert.deepEqual(role.rules, wantEventsRule ? [pods, events] : [pods]);
  });
}

Deno.test("chart DaemonSet rolls its pods when the config changes", async () => {
  const before = await renderAgent();
  const after = await renderAgent([...FULL_SETS, "config.telemetry.log_level=debug"]);
  assert.equal(after.config.telemetry.logLevel, "debug");
  assert.match(before.podAnnotations["checksum/config"], /^[0-9a-f]{64}$/);
  assert.notEqual(before.podAnnotations["checksum/config"], after.podAnnotations["checksum/config"]);
});

Deno.test("chart PodMonitor scrapes the metrics port under the job the alerts select", async () => {
  const agent = await renderAgent();
  const monitor = only(agent.manifests, "PodMonitor") as Manifest & {
    spec: { jobLabel: string; podMetricsEndpoints: { port: string; path: string }[] };
  };
  assert.deepEqual(monitor.spec.podMetricsEndpoints.map((e) => [e.port, e.path]), [["metrics", "/metrics"]]);
  const ds = only(agent.manifests, "DaemonSet") as Manifest & {
    spec: { template: { metadata: { labels: Record<string, string> } } };
  };
  const job = ds.spec.template.metadata.labels[monitor.spec.jobLabel];
  assert.match(job, /containerstdout/);
});

const RULES_FILE = parse(Deno.readTextFileSync(join(REPO_ROOT, "chart/files/alerts.yaml"))) as {
  groups: unknown;
};
const DEFAULT_RUNBOOK = "https://github.com/containerstdout/containerstdout/blob/main/docs/RUNBOOK.md";

Deno.test("chart PrometheusRule holds exactly the rules of chart/files/alerts.yaml", async () => {
  const rule = only((await render(FULL_SETS)).manifests, "PrometheusRule") as Manifest & {
    spec: { groups: unknown };
  };
  assert.deepEqual(rule.spec.groups, RULES_FILE.groups);
});

Deno.test("chart PrometheusRule applies runbookBaseUrl and additionalRuleLabels to every rule", async () => {
  const base = "https://wiki.example.internal/containerstdout";
  const sets = [
    ...FULL_SETS,
    `prometheusRule.runbookBaseUrl=${base}`,
    "prometheusRule.additionalRuleLabels.team=logs",
  ];
  const rule = only((await render(sets)).manifests, "PrometheusRule") as Manifest & {
    spec: { groups: { rules: { labels: Record<string, string>; annotations: Record<string, string> }[] }[] };
  };
  const rules = rule.spec.groups.flatMap((g) => g.rules);
  assert.ok(rules.length > 0);
  for (const r of rules) {
    assert.ok(r.annotations.runbook_url.startsWith(`${base}#`), r.annotations.runbook_url);
    assert.equal(r.labels.team, "logs");
    assert.ok(r.labels.severity, "the rule's own labels stay");
  }
  assert.ok(!JSON.stringify(rule).includes(DEFAULT_RUNBOOK));
});
