/**
 * Model → Plan: environment order, service waves, rendered artifacts and the
 * exact commands. Pure: no network, no child process, no file written. That is
 * what makes --dry-run hermetic.
 */

import { join, relative } from "node:path";
import { GraphError, topoWaves } from "../base/dag.js";
import { KaupangError, showValue } from "../base/errors.js";
import { parseImageRef } from "../base/image-reference.js";
import { own } from "../base/merge.js";
import type { TargetSettings } from "../base/target.js";
import type { Model, PullPolicy } from "../config/model.js";
import { fieldError } from "../config/validate.js";
import { registryAuthSecretName } from "../render/names.js";
import { artifactExtension, renderEnvironment } from "../render/render.js";
import { plannedRoutes } from "../render/routes.js";
import { upCommands } from "./commands.js";
import type { EnvironmentPlan, Plan, PlannedImage } from "./types.js";
import { fromDocuments } from "./unit.js";

interface PlanOptions {
  /** Run-level pull (`--pull`); default the target's. */
  pull?: PullPolicy | undefined;
  /** environment → service → pinned image ref (name@sha256:…), from resolution. */
  pinned?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** secret() name → keyed fingerprint of its value now (Kubernetes rolls pods whose secrets changed). */
  secrets?: Readonly<Record<string, string>> | undefined;
  /**
   * Registries (host[:port] as image references name them; docker.io) the
   * deployer has a docker login for. On Kubernetes, an environment whose images
   * come from one of them pulls with a Secret holding that login (unless the
   * target sets registryAuth: false).
   */
  registryLogins?: readonly string[] | undefined;
}

export const isDigestRef = (ref: string): boolean => /@sha256:[0-9a-f]{64}$/.test(ref);

function environmentWaves(model: Model): string[][] {
  const graph = new Map(Object.entries(model.environments).map(([n, e]) => [n, e.dependsOn]));
  try {
    return topoWaves(graph);
  } catch (error) {
    if (error instanceof GraphError && error.problem.kind === "cycle") {
      const first = model.environments[error.problem.cycle[0]!]!;
      throw fieldError(
        {
          file: first.file,
          path: ["dependsOn"],
          message: `environment dependency cycle: ${error.problem.cycle.join(" → ")}`,
        },
        { cycle: { kind: "environments", nodes: error.problem.cycle } },
      );
    }
    throw error;
  }
}

function serviceWaves(model: Model, envName: string): string[][] {
  const env = model.environments[envName]!;
  const graph = new Map(Object.values(env.services).map((s) => [s.name, s.dependsOn]));
  try {
    return topoWaves(graph);
  } catch (error) {
    if (error instanceof GraphError && error.problem.kind === "cycle") {
      throw fieldError(
        {
          file: env.file,
          path: ["services"],
          message: `service dependency cycle: ${error.problem.cycle.join(" → ")}`,
        },
        { cycle: { kind: "services", nodes: error.problem.cycle } },
      );
    }
    throw error;
  }
}

function checkUniqueServiceNames(model: Model, order: readonly string[]): void {
  const owner = new Map<string, string>();
  for (const name of order) {
    for (const service of Object.keys(model.environments[name]!.services)) {
      const other = owner.get(service);
      if (other) {
        const message = `service "${service}" is defined in environments "${other}" and "${name}"; environments deployed together share one network${model.target.backend === "kubernetes" ? " and namespace" : ""}, so service names must be unique across them`;
        const file = model.environments[name]!.file;
        throw new KaupangError("ERR_SERVICE_NAME_CLASH", message, {
          hint: `rename one of them (files ${model.environments[other]!.file} and ${file})`,
          problems: [{ file, path: ["services", service], subject: "name", message }],
        });
      }
      owner.set(service, name);
    }
  }
}

/**
 * Routes are set through one proxy admin address per target: a target with
 * several hosts (a proxy on each) cannot have them.
 */
function checkRoutesWithHosts(model: Model, order: readonly string[]): void {
  if (!model.target.hosts) return;
  for (const name of order) {
    const env = model.environments[name]!;
    const service = Object.values(env.services).find((s) => (s.routes?.length ?? 0) > 0);
    if (service)
      throw fieldError(
        {
          file: env.file,
          path: ["services", service.name, "http"],
          value: service.routes![0]!.host,
          message: `${showValue(service.routes![0]!.host)}: target "${model.target.name}" deploys to several hosts, and routes go through one proxy admin address (proxy.adminAddress): routes are not available on a target with hosts`,
        },
        { hint: "deploy routed environments to a target with one engine (dockerHost or dockerContext)" },
      );
  }
}

/** Two services, in any of the environments deployed together, cannot answer for the same host and path. */
function checkUniqueRoutes(model: Model, order: readonly string[]): void {
  const owner = new Map<string, { env: string; service: string }>();
  for (const name of order) {
    const env = model.environments[name]!;
    for (const service of Object.values(env.services)) {
      (service.routes ?? []).forEach((route, index) => {
        const key = `${route.host}${route.path}`;
        const other = owner.get(key);
        if (other) {
          const where = other.env === name ? "" : ` (${model.environments[other.env]!.file})`;
          const single = service.routes!.length === 1 && index === 0;
          throw fieldError({
            file: env.file,
            path: ["services", service.name, "http", ...(single ? [] : [index])],
            value: key,
            message: `"${key}" is already routed to service ${other.service}${where}; each host and path goes to one service`,
          });
        }
        owner.set(key, { env: name, service: service.name });
      });
    }
  }
}

/**
 * Compose and swarm publish ports on the host (swarm: on every node): two
 * services deployed together cannot publish the same one. Kubernetes gives
 * each service its own ClusterIP, so its ports never clash.
 */
function checkHostPorts(model: Model, order: readonly string[]): void {
  if (model.target.backend === "kubernetes") return;
  const seen = new Map<string, { env: string; service: string; hostIp: string | undefined }>();
  const everywhere = (ip: string | undefined) => ip === undefined || ip === "0.0.0.0" || ip === "::";
  for (const name of order) {
    const env = model.environments[name]!;
    for (const service of Object.values(env.services)) {
      for (const port of service.ports) {
        if (port.published === undefined) continue;
        const key = `${port.published}/${port.protocol}`;
        const other = seen.get(key);
        if (other && (everywhere(other.hostIp) || everywhere(port.hostIp) || other.hostIp === port.hostIp)) {
          const where =
            other.env === name
              ? `service "${other.service}"`
              : `service "${other.service}" of environment "${other.env}" (${model.environments[other.env]!.file})`;
          throw fieldError(
            {
              file: env.file,
              // The model's ports are expanded from ranges: name the field, not an index.
              path: ["services", service.name, "ports"],
              value: `${port.hostIp ? `${port.hostIp}:` : ""}${port.published}:${port.target}`,
              message: `host port ${key} is already published by ${where}; services deployed together cannot publish the same host port`,
            },
            { hint: "publish one of them on another host port" },
          );
        }
        if (!other) seen.set(key, { env: name, service: service.name, hostIp: port.hostIp });
      }
    }
  }
}

/**
 * Kubernetes: the registries of the environment's images the deployer has a
 * login for, and the Secret that carries it to the cluster; undefined when
 * there are none (or the target opts out with registryAuth: false).
 */
function registryAuthOf(
  model: Model,
  env: Model["environments"][string],
  logins: readonly string[] | undefined,
): EnvironmentPlan["registryAuth"] {
  if (model.target.backend !== "kubernetes" || model.target.registryAuth === false || !logins?.length)
    return undefined;
  const used = new Set(Object.values(env.services).map((s) => parseImageRef(s.image).registry));
  const registries = logins.filter((r) => used.has(r)).sort();
  return registries.length > 0
    ? { secret: registryAuthSecretName(model.project, env.name), registries }
    : undefined;
}

export function createPlan(model: Model, options: PlanOptions = {}): Plan {
  const environmentWavesList = environmentWaves(model);
  const order = environmentWavesList.flat();
  checkUniqueServiceNames(model, order);
  checkUniqueRoutes(model, order);
  checkRoutesWithHosts(model, order);
  checkHostPorts(model, order);
  const pull = options.pull ?? model.target.pull;
  const { name: targetName, backend, pull: _pull, state: _state, ...settings } = model.target;
  const target: TargetSettings = { name: targetName, backend, ...settings };
  const ctx = { project: model.project, target, pull, root: model.root };
  const artifactDir = relative(model.root, join(model.cacheDir, targetName)) || ".";

  const environments = order.map((name): EnvironmentPlan => {
    const env = model.environments[name]!;
    const waves = serviceWaves(model, name);
    const pinnedRefs = own(options.pinned, name) ?? {};
    const images: PlannedImage[] = Object.values(env.services).map((s) => {
      const pinnedRef = own(pinnedRefs, s.name);
      const ref = s.image;
      if (pinnedRef) {
        // An image ID (sha256:…) pins a local build; name@sha256:… a registry digest.
        const local = pinnedRef.startsWith("sha256:");
        const digest = local ? pinnedRef : pinnedRef.slice(pinnedRef.lastIndexOf("@") + 1);
        return { service: s.name, ref, digest, pinned: true, ...(local ? { local } : {}) };
      }
      return isDigestRef(ref)
        ? { service: s.name, ref, digest: ref.slice(ref.lastIndexOf("@") + 1), pinned: true }
        : { service: s.name, ref, pinned: false };
    });
    const secrets = [
      ...new Set(
        Object.values(env.services).flatMap((s) =>
          Object.values(s.env).flatMap((v) => (typeof v === "string" ? [] : [v.$secret])),
        ),
      ),
    ].sort();
    const registryAuth = registryAuthOf(model, env, options.registryLogins);
    const { documents, content, wave } = renderEnvironment(model, env, {
      images: pinnedRefs,
      secrets: options.secrets,
      ...(registryAuth ? { pullSecrets: [registryAuth.secret] } : {}),
    });
    const routes = plannedRoutes(model, env);
    const artifact = { path: join(artifactDir, `${name}.${artifactExtension[backend]}`), content };
    const plan: EnvironmentPlan = {
      environment: name,
      file: env.file,
      dependsOn: env.dependsOn,
      waves,
      runOnce: Object.values(env.services)
        .filter((s) => s.runOnce)
        .map((s) => s.name),
      replicas: Object.fromEntries(Object.values(env.services).map((s) => [s.name, s.replicas])),
      images,
      secrets,
      artifact,
      ...(registryAuth ? { registryAuth } : {}),
      ...fromDocuments(backend, documents, { artifact, waves }, wave),
      ...(routes.length > 0 ? { routes } : {}),
      hooks: env.hooks,
      ...(env.pull ? { pull: env.pull } : {}),
      commands: [],
    };
    plan.commands = upCommands(ctx, plan);
    return plan;
  });

  return {
    project: model.project,
    target: targetName,
    backend,
    targetSettings: target,
    pull,
    root: model.root,
    environmentOrder: order,
    environmentWaves: environmentWavesList,
    environments,
  };
}
