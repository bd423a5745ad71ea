/**
 * containerstdout: tails container logs under /var/log/pods and ships them as OTLP/HTTP logs.
 *
 * flags -> config -> build components -> start -> wait for SIGTERM/SIGINT -> stop -> exit 0.
 * Exit codes: 0 clean stop, 1 startup failure, 2 invalid config or flags.
 *
 * @module
 */

import { dirname } from "node:path";
import { startAgent, StartupError, VERSION } from "./agent.ts";
import {
  applyCliOverrides,
  type Config,
  ConfigError,
  HELP_TEXT,
  loadConfigFile,
  parseCliArgs,
  runCheckConfig,
  validateConfig,
} from "./config/mod.ts";
import { compileGlob } from "./discovery/mod.ts";
import { checkEnrichmentConfig } from "./enrich/mod.ts";
import { checkDataloaderPatterns, loadRe2Engine } from "./extract/mod.ts";
import {
  netHostOfUrl,
  PermissionCheckError,
  type PermissionTarget,
  requirePermissions,
} from "./permissions/mod.ts";
import { createAgentMetrics } from "./telemetry/agent_metrics.ts";
import { Logger, toError } from "./telemetry/log.ts";
import { parseListenAddress } from "./telemetry/http.ts";
import { MetricsRegistry } from "./telemetry/metrics.ts";

const env = (name: string): string | undefined => {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // not in the permission set: treated as unset
  }
};

const print = (text: string): void => {
  Deno.stdout.writeSync(new TextEncoder().encode(text.endsWith("\n") ? text : text + "\n"));
};

async function main(args: string[]): Promise<number> {
  const cli = parseCliArgs(args);
  if (!cli.ok) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${cli.message}\n`));
    return 2;
  }
  const flags = cli.value;
  if (flags.command === "help") {
    print(HELP_TEXT);
    return 0;
  }
  if (flags.command === "version") {
    print(`containerstdout ${VERSION}`);
    return 0;
  }
  if (flags.command === "check_config") {
    // Beyond the schema: what only the enrichment stage can check (the RE2 rank pattern compiles,
    // sources and key filters are usable), without connecting anywhere.
    const metrics = createAgentMetrics(new MetricsRegistry());
    // Every pattern is validated by RE2 here, including those the agent will run on the JS engine.
    await loadRe2Engine();
    return await runCheckConfig(flags.configPath ?? "", {
      env,
      stdout: print,
      checkMore: (config) => [
        ...checkEnrichmentConfig(config, metrics),
        ...(config.dataloader.enabled
          ? checkDataloaderPatterns(config.dataloader.patterns, {
            maxInputBytes: config.dataloader.maxInputBytes,
            metrics,
          })
          : []),
      ],
    });
  }

  let config;
  try {
    const loaded = flags.configPath !== undefined
      ? await loadConfigFile(flags.configPath, { env })
      : embeddedDefault();
    config = applyCliOverrides(loaded, flags);
  } catch (err) {
    if (err instanceof ConfigError) {
      Deno.stderr.writeSync(new TextEncoder().encode(`${err.message}\n`));
      return 2;
    }
    throw err;
  }
  const logger = new Logger({ level: config.telemetry.logLevel });
  try {
    // Before anything connects: a host the permission set does not allow is a config problem, said once
    // with the host or path and the way to allow it.
    await requirePermissions(permissionTargets(config));
  } catch (err) {
    if (!(err instanceof PermissionCheckError)) throw err;
    for (const line of err.message.split("\n")) logger.error(line);
    return 1;
  }
  // Listening from the start: an agent waiting for the cursor lock stops cleanly on SIGTERM too.
  const stopRequest = new AbortController();
  const stopSignalled = waitForSignal().then(() => stopRequest.abort());
  let agent;
  try {
    agent = await startAgent({
      config,
      logger,
      env,
      signal: stopRequest.signal,
      onTelemetryListen: (addr) =>
        logger.info("Telemetry listening", { address: `${addr.hostname}:${addr.port}` }),
    });
  } catch (err) {
    if (stopRequest.signal.aborted) {
      logger.info("Stopped before start-up completed");
      return 0;
    }
    const error = toError(err);
    logger.error(error instanceof StartupError ? error.message : `Startup failed: ${error.message}`);
    return 1;
  }
  logger.info("Agent started", {
    version: VERSION,
    include: config.include,
    endpoint: config.exporter.endpoint,
  });
  await stopSignalled;
  logger.info("Stopping: flushing records, draining exports, committing cursors");
  await agent.stop();
  logger.info("Agent stopped");
  return 0;
}

/**
 * What the agent touches besides the API server (checked where its URL is resolved): the OTLP endpoint,
 * the telemetry listener, the log roots it reads and the cursor directory it writes.
 */
function permissionTargets(config: Config): PermissionTarget[] {
  const targets: PermissionTarget[] = [{
    target: netHostOfUrl(config.exporter.endpoint),
    source: "exporter.endpoint",
  }];
  for (const pattern of config.include) {
    // The directory discovery walks for this pattern.
    targets.push({ target: compileGlob(pattern).root, source: "include", permission: "read" });
  }
  const cursorDir = dirname(config.cursor.path);
  targets.push({ target: cursorDir, source: "cursor.path", permission: "read" });
  targets.push({ target: cursorDir, source: "cursor.path", permission: "write" });
  if (config.telemetry.listen !== "") {
    const { hostname, port } = parseListenAddress(config.telemetry.listen);
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    targets.push({ target: `${host}:${port}`, source: "telemetry.listen", isListen: true });
  }
  return targets;
}

function embeddedDefault(): Config {
  const result = validateConfig({}, { env });
  if (!result.ok) throw new ConfigError(result.errors);
  return result.value;
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const onSignal = (): void => {
      Deno.removeSignalListener("SIGTERM", onSignal);
      Deno.removeSignalListener("SIGINT", onSignal);
      resolve();
    };
    Deno.addSignalListener("SIGTERM", onSignal);
    Deno.addSignalListener("SIGINT", onSignal);
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
