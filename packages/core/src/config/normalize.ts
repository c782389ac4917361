/**
 * Written config → Model for one target, pure: shorthands expanded, catalog
 * presets merged, image names prefixed, env merged by precedence, the
 * backend chosen. The load step (config/project.ts) has read every file and
 * fetched the catalog before; this reads nothing and writes nothing.
 */
import { resolve } from "node:path";
import type * as z from "zod";
import { didYouMean } from "../base/did-you-mean.js";
import { parseDuration } from "../base/duration.js";
import { KaupangError, showValue } from "../base/errors.js";
import { nameOf } from "../base/image-reference.js";
import { deepMerge } from "../base/merge.js";
import type { Catalog } from "./catalog/catalog.js";
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
import { parsePort } from "./ports.js";
import { isValidName, nameRule, type ServiceObjectSchema, type TargetSchema } from "./schema.js";
import { fieldError } from "./validate.js";
import type { Config, ValidEnvironment } from "./written.js";

type ValidService = z.output<typeof ServiceObjectSchema>;
export type WrittenEnv = Record<string, string | number | boolean | { $secret: string }>;

/**
 * What the load step gathered for one command: the validated config and the
 * closure of environments the command needs (the ones it names and all they
 * depend on), each with the file it was read from.
 */
export interface WrittenClosure {
  /** Absolute directory of the config file. */
  root: string;
  /** Config file, relative to root. */
  configFile: string;
  config: Config;
  /** name → validated environment and its file (relative to root), for the whole closure. */
  environments: ReadonlyMap<string, { file: string; written: ValidEnvironment }>;
  /** Solution env, between target env and service env in precedence. */
  extraEnv?: WrittenEnv | undefined;
  /** `"env.service" → image ref` overrides (solution pins). */
  pins?: Record<string, string> | undefined;
}

/** The target a run deploys to, with its env (merged into services by normalize). */
export type SelectedTarget = Target & { env: WrittenEnv };

export interface TargetOptions {
  /** Target name; default `$KAUPANG_TARGET`, else `local`. */
  target?: string | undefined;
  /** Backend override (`-b`); default the target's, then `defaultBackend`, then compose. */
  backend?: BackendName | undefined;
  /** Where KAUPANG_TARGET is read; default process.env. */
  processEnv?: NodeJS.ProcessEnv | undefined;
}

/** Pick the target and backend the run deploys to. */
export function selectTarget(
  project: { config: Config; root: string },
  options: TargetOptions,
): SelectedTarget {
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
  return {
    name,
    backend,
    ...(written.dockerContext ? { dockerContext: written.dockerContext } : {}),
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
    state: written.state ?? "local",
    env: written.env ?? {},
  };
}

/** Whether normalising `written` needs the catalog (a service names a preset). */
export function needsCatalog(environments: Iterable<ValidEnvironment>): boolean {
  return [...environments].some((env) =>
    Object.values(env.services).some((s) => typeof s === "object" && s.$catalog !== undefined),
  );
}

/** Normalise a loaded closure for one target into a Model. Pure. */
export function createModel(
  written: WrittenClosure,
  catalog: Catalog | undefined,
  target: SelectedTarget,
): Model {
  const { config } = written;
  const environments: Record<string, Environment> = {};
  for (const name of [...written.environments.keys()].sort()) {
    const { file, written: env } = written.environments.get(name)!;
    const services: Record<string, Service> = {};
    for (const serviceName of Object.keys(env.services).sort()) {
      if (!isValidName(serviceName)) {
        throw fieldError({
          file,
          path: ["services", serviceName],
          subject: "name",
          message: `service name "${serviceName}" must be ${nameRule}`,
        });
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
        const found = catalog?.services.get(preset);
        if (!found) {
          const searched =
            catalog && catalog.sources.length > 0
              ? catalog.sources.join(", ")
              : "no catalog sources configured";
          throw fieldError({
            file,
            path: ["services", serviceName],
            value: service.$catalog,
            message: `catalog preset "${preset}" not found${didYouMean(preset, [...(catalog?.services.keys() ?? [])])} (searched: ${searched})`,
          });
        }
        const base: ValidService =
          typeof found.preset === "string" ? { image: found.preset } : { ...(found.preset as ValidService) };
        if (version !== undefined) {
          if (!base.image) {
            throw fieldError({
              file,
              path: ["services", serviceName],
              value: service.$catalog,
              message: `catalog preset "${preset}" has no image to pick version ${version} of`,
            });
          }
          base.image = `${nameOf(base.image)}:${version}`;
        }
        const { $catalog: _ignored, ...overrides } = service;
        imageFromPreset = overrides.image === undefined;
        service = deepMerge(base, overrides) as ValidService;
      }
      services[serviceName] = normalizeService({
        name: serviceName,
        service,
        path: ["services", serviceName],
        file,
        config,
        imagePrefixed: !imageFromPreset,
        env: mergeEnv(config.globalEnv, env.env, target.env, written.extraEnv, service.env),
        pin: written.pins?.[`${name}.${serviceName}`],
        preset,
      });
    }
    for (const service of Object.values(services)) {
      service.dependsOn.forEach((dep) => {
        if (!services[dep]) {
          throw fieldError({
            file,
            path: ["services", service.name, "dependsOn"],
            value: dep,
            message: `service "${dep}" does not exist in environment "${name}"${didYouMean(dep, Object.keys(services))}`,
          });
        }
      });
    }
    environments[name] = {
      name,
      file,
      dependsOn: list(env.dependsOn),
      services,
      hooks: {
        beforeUp: hooks(env.hooks?.beforeUp, written.root),
        afterUp: hooks(env.hooks?.afterUp, written.root),
        beforeDown: hooks(env.hooks?.beforeDown, written.root),
        afterDown: hooks(env.hooks?.afterDown, written.root),
      },
    };
  }

  const { env: _targetEnv, ...targetModel } = target;
  return {
    project: config.project,
    root: written.root,
    configFile: written.configFile,
    cacheDir: resolve(written.root, config.cacheDir ?? ".kaupang"),
    target: targetModel,
    environments,
  };
}

/** A `string | string[]` field as a list without repeats. */
export function list(value: string | string[] | undefined): string[] {
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
  path: (string | number)[];
  file: string;
  config: Config;
  imagePrefixed: boolean;
  env: Record<string, EnvValue>;
  pin: string | undefined;
  preset: string | undefined;
}): Service {
  const { service: s, name, file, path, config } = input;
  const writtenImage = s.image ?? (s.build !== undefined ? `${config.project}-${name}` : undefined);
  if (writtenImage === undefined) {
    throw fieldError({
      file,
      path,
      message: "a service needs an image, a build, or a catalog preset ($catalog / use())",
    });
  }
  const image =
    input.pin ?? (input.imagePrefixed ? prefixImage(writtenImage, config.dockerRepository) : writtenImage);
  const ports = (s.ports ?? []).map((port) => parsePort(port)!);
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
  if (s.workingDir !== undefined) out.workingDir = s.workingDir;
  if (s.restart !== undefined) out.restart = s.restart;
  if (s.pull !== undefined) out.pull = s.pull as PullPolicy;
  if (s.healthcheck) {
    const h = s.healthcheck;
    let test = typeof h.test === "string" ? ["CMD-SHELL", h.test] : [...h.test];
    if (!["CMD", "CMD-SHELL", "NONE"].includes(test[0] ?? "")) test = ["CMD", ...test];
    if (test.length < 2 && test[0] !== "NONE") {
      throw fieldError({
        file,
        path: [...path, "healthcheck", "test"],
        value: h.test,
        message: `${showValue(h.test)} has no command`,
      });
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
    throw fieldError({
      file,
      path: [...path, "replicas"],
      value: out.replicas,
      message: `a runOnce service runs exactly once; got replicas ${out.replicas}`,
    });
  }
  return out;
}
