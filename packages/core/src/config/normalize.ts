/**
 * Written config → Model for one target: shorthands expanded, catalog
 * presets merged, image names prefixed, env merged by precedence, the
 * backend chosen. The result is plain data; nothing after this reads files.
 */
import { resolve } from "node:path";
import type * as z from "zod";
import { closure } from "../base/dag.js";
import { didYouMean } from "../base/did-you-mean.js";
import { parseDuration } from "../base/duration.js";
import { KaupangError, showValue } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { nameOf } from "../base/image-reference.js";
import { deepMerge } from "../base/merge.js";
import { displayPath } from "./load.js";
import type {
  BackendName,
  Environment,
  EnvValue,
  Hook,
  Model,
  PullPolicy,
  Service,
  Target,
} from "./model.js";
import { parsePorts } from "./ports.js";
import { type Config, isValidName, nameRule, type Project, type ValidEnvironment } from "./project.js";
import type { ServiceObjectSchema, TargetSchema } from "./schema.js";
import { fieldError } from "./validate.js";
import type { WrittenService } from "./written.js";

type ValidService = z.output<typeof ServiceObjectSchema>;
type WrittenEnv = Record<string, string | number | boolean | { $secret: string }>;

export interface ModelOptions {
  /** Target name; default `$KAUPANG_TARGET`, else `local`. */
  target?: string | undefined;
  /** Backend override (`-b`); default the target's, then `defaultBackend`, then compose. */
  backend?: BackendName | undefined;
  /** Environments to deploy; their dependencies are pulled in. */
  environments: readonly string[];
  /** Solution env, between target env and service env in precedence. */
  extraEnv?: WrittenEnv | undefined;
  /** `"env.service" → image ref` overrides (solution pins). */
  pins?: Record<string, string> | undefined;
  /** Where KAUPANG_TARGET is read; default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
  /** Warnings (optional catalog sources skipped). */
  events?: EventSink | undefined;
}

/** Pick the target and backend the run deploys to. */
export function selectTarget(
  project: Project,
  options: {
    target?: string | undefined;
    backend?: BackendName | undefined;
    processEnv?: NodeJS.ProcessEnv | undefined;
  },
): Target & { env: WrittenEnv } {
  const { config } = project;
  const name = options.target ?? options.processEnv?.KAUPANG_TARGET ?? process.env.KAUPANG_TARGET ?? "local";
  const targets = config.targets ?? {};
  const written: z.output<typeof TargetSchema> | undefined =
    targets[name] ?? (name === "local" ? {} : undefined);
  if (!written) {
    const known = Object.keys(targets);
    if (!known.includes("local")) known.unshift("local");
    throw new KaupangError(
      "ERR_UNKNOWN_TARGET",
      `unknown target "${name}"${didYouMean(name, known)}; configured targets: ${known.join(", ")}`,
    );
  }
  const backend = options.backend ?? written.backend ?? config.defaultBackend ?? "compose";
  if (written.dockerHost && written.dockerContext) {
    throw fieldError(
      displayPath(project.root, project.configFile),
      ["targets", name, "dockerHost"],
      `"${written.dockerHost}" and dockerContext "${written.dockerContext}" both pick the engine; keep one`,
    );
  }
  return {
    name,
    backend,
    ...(written.dockerContext ? { dockerContext: written.dockerContext } : {}),
    ...(written.dockerHost ? { dockerHost: written.dockerHost } : {}),
    ...(written.kubeContext ? { kubeContext: written.kubeContext } : {}),
    ...(written.kubeconfig ? { kubeconfig: resolve(project.root, written.kubeconfig) } : {}),
    namespace: written.namespace ?? config.project,
    ...(written.swarm
      ? {
          swarm: {
            portMode: written.swarm.portMode ?? "ingress",
            endpointMode: written.swarm.endpointMode ?? "vip",
          },
        }
      : {}),
    pull: written.pull ?? config.defaultPull ?? "missing",
    env: written.env ?? {},
  };
}

/** Resolve the dependency closure of `roots` and normalise it into a Model. */
export async function createModel(project: Project, options: ModelOptions): Promise<Model> {
  const { config } = project;
  const target = selectTarget(project, options);
  for (const name of options.environments) {
    if (!(await project.findEnvironment(name))) {
      const known = await project.allEnvironmentNames();
      throw new KaupangError(
        "ERR_UNKNOWN_ENVIRONMENT",
        `unknown environment "${name}"${didYouMean(name, known)}; environments: ${known.join(", ") || `(none in ${project.environmentsDisplay})`}`,
      );
    }
  }

  // Load the closure breadth-first, concurrently, checking each dependsOn as we go.
  const written = new Map<string, ValidEnvironment>();
  let frontier = [...new Set(options.environments)];
  while (frontier.length > 0) {
    const loaded = await Promise.all(frontier.map((name) => project.loadEnvironment(name)));
    const next: string[] = [];
    for (const [i, name] of frontier.entries()) {
      const env = loaded[i]!;
      written.set(name, env);
      for (const dep of list(env.dependsOn)) {
        if (!(await project.findEnvironment(dep))) {
          throw fieldError(
            project.environmentFile(name),
            ["dependsOn"],
            `environment "${dep}" does not exist${didYouMean(dep, await project.allEnvironmentNames())}`,
          );
        }
        if (!written.has(dep) && !next.includes(dep) && !frontier.includes(dep)) next.push(dep);
      }
    }
    frontier = next;
  }

  const needsCatalog = [...written.values()].some((env) =>
    Object.values(env.services).some((s) => typeof s === "object" && s.$catalog !== undefined),
  );
  const catalog = needsCatalog ? await project.catalog(options.events) : undefined;

  const environments: Record<string, Environment> = {};
  for (const name of [...written.keys()].sort()) {
    const env = written.get(name)!;
    const file = project.environmentFile(name);
    const environmentNetworks = namedDefinitions(env.networks);
    const environmentVolumes = namedDefinitions(env.volumes);
    for (const [kind, defs] of [
      ["networks", environmentNetworks],
      ["volumes", environmentVolumes],
    ] as const) {
      for (const key of Object.keys(defs)) {
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(key)) {
          throw fieldError(file, [kind, key], `"${key}" is not a valid ${kind.slice(0, -1)} name`);
        }
      }
    }
    const services: Record<string, Service> = {};
    for (const serviceName of Object.keys(env.services).sort()) {
      if (!isValidName(serviceName)) {
        throw fieldError(
          file,
          ["services", serviceName],
          `service name "${serviceName}" must be ${nameRule}`,
        );
      }
      const entry = env.services[serviceName]!;
      let service: ValidService = typeof entry === "string" ? { image: entry } : entry;
      let preset: string | undefined;
      let imageFromPreset = false;
      if (service.$catalog !== undefined) {
        // "name@version" picks the preset's image at that tag.
        const at = service.$catalog.lastIndexOf("@");
        preset = at > 0 ? service.$catalog.slice(0, at) : service.$catalog;
        const version = at > 0 ? service.$catalog.slice(at + 1) : undefined;
        const found = catalog!.services.get(preset);
        if (!found) {
          const searched =
            catalog!.sources.length > 0 ? catalog!.sources.join(", ") : "no catalog sources configured";
          throw fieldError(
            file,
            ["services", serviceName],
            `catalog preset "${preset}" not found${didYouMean(preset, [...catalog!.services.keys()])} (searched: ${searched})`,
          );
        }
        const base: ValidService =
          typeof found.preset === "string" ? { image: found.preset } : { ...(found.preset as ValidService) };
        if (version !== undefined) {
          if (!base.image) {
            throw fieldError(
              file,
              ["services", serviceName],
              `catalog preset "${preset}" has no image to pick version ${version} of`,
            );
          }
          base.image = `${nameOf(base.image)}:${version}`;
        }
        // Overrides: beside "$catalog" (what use() writes) and/or under "overrides" (the original's JSON form).
        const { $catalog: _ignored, overrides: nested, ...siblings } = service;
        const overrides = nested ? (deepMerge(siblings, nested) as ValidService) : siblings;
        imageFromPreset = overrides.image === undefined;
        service = deepMerge(base, overrides) as ValidService;
      } else if (service.overrides !== undefined) {
        throw fieldError(
          file,
          ["services", serviceName, "overrides"],
          'overrides apply to a catalog preset: add "$catalog", or write the settings on the service itself',
        );
      }
      services[serviceName] = normalizeService({
        name: serviceName,
        service,
        path: ["services", serviceName],
        file,
        config,
        repository: env.dockerRepository ?? config.dockerRepository,
        networks: Object.keys(environmentNetworks),
        imagePrefixed: !imageFromPreset,
        env: mergeEnv(config.globalEnv, env.env, target.env, options.extraEnv, service.env),
        pin: options.pins?.[`${name}.${serviceName}`],
        preset,
      });
    }
    for (const service of Object.values(services)) {
      for (const dep of service.dependsOn) {
        if (!services[dep]) {
          throw fieldError(
            file,
            ["services", service.name, "dependsOn"],
            `service "${dep}" does not exist in environment "${name}"${didYouMean(dep, Object.keys(services))}`,
          );
        }
      }
    }
    environments[name] = {
      name,
      file,
      dependsOn: list(env.dependsOn),
      services,
      networks: environmentNetworks,
      volumes: environmentVolumes,
      ...(env.pull ? { pull: env.pull as PullPolicy } : {}),
      hooks: {
        beforeUp: hooks(env.hooks?.beforeUp, project.root),
        afterUp: hooks(env.hooks?.afterUp, project.root),
        beforeDown: hooks(env.hooks?.beforeDown, project.root),
        afterDown: hooks(env.hooks?.afterDown, project.root),
      },
    };
  }

  const { env: _targetEnv, ...targetModel } = target;
  return {
    project: config.project,
    root: project.root,
    configFile: project.configFile.slice(project.root.length + 1),
    cacheDir: resolve(project.root, config.cacheDir ?? ".kaupang"),
    target: targetModel,
    environments,
  };
}

/** The environments a deploy of `roots` touches (roots and everything they depend on). */
export function environmentClosure(model: Model, roots: readonly string[]): Set<string> {
  return closure(roots, (name) => model.environments[name]?.dependsOn ?? []);
}

/** `["a"]` or `{ a: null | {…} }` → `{ a: {…} }` (environment networks and volumes). */
function namedDefinitions<T extends object>(
  value: string[] | Record<string, T | null> | undefined,
): Record<string, T> {
  if (value === undefined) return {};
  if (Array.isArray(value)) return Object.fromEntries([...new Set(value)].sort().map((n) => [n, {} as T]));
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([n, v]) => [n, (v ?? {}) as T]),
  );
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(Array.isArray(value) ? value : [value])];
}

function mergeEnv(...layers: (WrittenEnv | undefined)[]): Record<string, EnvValue> {
  const merged: Record<string, EnvValue> = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer ?? {})) {
      merged[key] = typeof value === "object" ? { $secret: value.$secret } : String(value);
    }
  }
  return Object.fromEntries(Object.entries(merged).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function hooks(value: unknown, root: string): Hook[] {
  if (value === undefined) return [];
  const items = (Array.isArray(value) ? value : [value]) as (
    | string
    | { run: string; cwd?: string; env?: Record<string, string> }
  )[];
  return items.map((hook) =>
    typeof hook === "string"
      ? { run: hook, cwd: root, env: {} }
      : { run: hook.run, cwd: resolve(root, hook.cwd ?? "."), env: hook.env ?? {} },
  );
}

/** Bare names (no "/" in the repository part) get the repository prefix. */
export function prefixImage(image: string, repository: string | undefined): string {
  if (!repository) return image;
  // A tag never contains "/", so any "/" before a digest means a qualified name.
  if (image.split("@")[0]!.includes("/")) return image;
  return `${repository.replace(/\/+$/, "")}/${image}`;
}

const memoryUnits: Record<string, number> = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

function normalizeService(input: {
  name: string;
  service: ValidService;
  path: PropertyKey[];
  file: string;
  config: Config;
  /** The environment's dockerRepository, else the project's. */
  repository: string | undefined;
  /** Networks the environment declares. */
  networks: string[];
  imagePrefixed: boolean;
  env: Record<string, EnvValue>;
  pin: string | undefined;
  preset: string | undefined;
}): Service {
  const { service: s, name, file, path, config } = input;
  const writtenImage = s.image ?? (s.build !== undefined ? `${config.project}-${name}` : undefined);
  if (writtenImage === undefined) {
    throw fieldError(file, path, "a service needs an image, a build, or a catalog preset ($catalog / use())");
  }
  const image =
    input.pin ?? (input.imagePrefixed ? prefixImage(writtenImage, input.repository) : writtenImage);
  const ports = (s.ports ?? []).flatMap((port) => parsePorts(port)!);
  const seen = new Map<string, string | number>();
  for (const [i, port] of ports.entries()) {
    if (port.published === undefined) continue;
    const key = `${port.hostIp ?? ""}:${port.published}/${port.protocol}`;
    if (seen.has(key)) {
      throw fieldError(
        file,
        [...path, "ports"],
        `host port ${port.published}/${port.protocol} is published twice`,
      );
    }
    seen.set(key, i);
  }
  if (s.workingDir !== undefined && s.workingDirectory !== undefined && s.workingDir !== s.workingDirectory) {
    throw fieldError(
      file,
      [...path, "workingDirectory"],
      `"${s.workingDirectory}" differs from workingDir "${s.workingDir}"; keep one`,
    );
  }
  for (const network of s.networks ?? []) {
    if (!input.networks.includes(network)) {
      throw fieldError(
        file,
        [...path, "networks"],
        `network "${network}" is not declared in the environment's networks${didYouMean(network, input.networks)}${input.networks.length ? ` (declared: ${input.networks.join(", ")})` : ""}`,
      );
    }
  }
  const out: Service = {
    name,
    image,
    ports,
    env: input.env,
    volumes: s.volumes ?? [],
    runOnce: s.runOnce ?? false,
    replicas: s.replicas ?? 1,
    labels: s.labels ?? {},
    dependsOn: list(s.dependsOn),
    capAdd: [...new Set(s.capAdd ?? [])],
    capDrop: [...new Set(s.capDrop ?? [])],
    networks: [...new Set(s.networks ?? [])],
    compose: s.compose ?? {},
    kubernetes: s.kubernetes ?? {},
  };
  if (input.preset !== undefined) out.preset = input.preset;
  if (s.build !== undefined) {
    const b = typeof s.build === "string" ? { context: s.build } : s.build;
    out.build = {
      context: b.context,
      args: b.args ?? {},
      ...(b.dockerfile ? { dockerfile: b.dockerfile } : {}),
      ...(b.target ? { target: b.target } : {}),
    };
  }
  if (s.command !== undefined) out.command = s.command;
  if (s.entrypoint !== undefined) out.entrypoint = s.entrypoint;
  const workingDir = s.workingDir ?? s.workingDirectory;
  if (workingDir !== undefined) out.workingDir = workingDir;
  if (s.restart !== undefined) out.restart = s.restart;
  if (s.pull !== undefined) out.pull = s.pull as PullPolicy;
  if (s.healthcheck) {
    const h = s.healthcheck;
    let test = typeof h.test === "string" ? ["CMD-SHELL", h.test] : [...h.test];
    if (!["CMD", "CMD-SHELL", "NONE"].includes(test[0] ?? "")) test = ["CMD", ...test];
    if (test.length < 2 && test[0] !== "NONE") {
      throw fieldError(file, [...path, "healthcheck", "test"], `${showValue(h.test)} has no command`);
    }
    out.healthcheck = {
      test,
      ...(h.interval ? { intervalMs: parseDuration(h.interval) } : {}),
      ...(h.timeout ? { timeoutMs: parseDuration(h.timeout) } : {}),
      ...(h.retries !== undefined ? { retries: h.retries } : {}),
      ...(h.startPeriod ? { startPeriodMs: parseDuration(h.startPeriod) } : {}),
    };
  }
  if (s.resources && (s.resources.cpus !== undefined || s.resources.memory !== undefined)) {
    const { cpus, memory } = s.resources;
    out.resources = {};
    if (cpus !== undefined) out.resources.cpus = String(cpus);
    if (memory !== undefined) {
      if (typeof memory === "number") out.resources.memoryBytes = memory;
      else {
        const m = /^(\d+(?:\.\d+)?)\s*([bkmg]?)$/i.exec(memory)!;
        out.resources.memoryBytes = Math.round(Number(m[1]) * memoryUnits[m[2]!.toLowerCase()]!);
      }
    }
  }
  if (out.runOnce && out.replicas !== 1) {
    throw fieldError(
      file,
      [...path, "replicas"],
      `a runOnce service runs exactly once; got replicas ${out.replicas}`,
    );
  }
  return out;
}

export type { WrittenService };
