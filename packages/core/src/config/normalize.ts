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
import { imageReferenceProblem, nameOf } from "../base/image-reference.js";
import { deepMerge, own } from "../base/merge.js";
import type { Catalog } from "./catalog/catalog.js";
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
import { normalizeProxy, normalizeRoutes } from "./routes.js";
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
  project: { config: Config; root: string; configFile?: string },
  options: TargetOptions,
): SelectedTarget {
  const { config } = project;
  const fromEnv = options.processEnv?.KAUPANG_TARGET ?? process.env.KAUPANG_TARGET;
  const name = options.target ?? fromEnv ?? "local";
  const targets = config.targets ?? {};
  // Own keys only: a target named "constructor" is not Object.prototype's.
  const written: z.output<typeof TargetSchema> | undefined = Object.hasOwn(targets, name)
    ? targets[name]
    : name === "local"
      ? {}
      : undefined;
  if (!written) {
    const known = Object.keys(targets);
    if (!known.includes("local")) known.unshift("local");
    const source = options.target === undefined && fromEnv !== undefined ? " (from $KAUPANG_TARGET)" : "";
    throw new KaupangError(
      "ERR_UNKNOWN_TARGET",
      `unknown target "${name}"${source}${didYouMean(name, known)}; configured targets: ${known.join(", ")}`,
    );
  }
  const backend = options.backend ?? written.backend ?? config.defaultBackend ?? "compose";
  if (written.hosts) checkHosts(project, name, backend, written);
  if (written.imagePullSecrets && backend !== "kubernetes") {
    throw fieldError({
      file: displayPath(project.root, project.configFile ?? "kaupang.config"),
      path: ["targets", name, "imagePullSecrets"],
      value: written.imagePullSecrets,
      message: `imagePullSecrets are for the kubernetes backend; target "${name}" deploys with ${backend}, which pulls with the deployer's docker login`,
    });
  }
  if (written.dockerHost && written.dockerContext) {
    throw fieldError({
      file: displayPath(project.root, project.configFile ?? "kaupang.config"),
      path: ["targets", name, "dockerHost"],
      value: written.dockerHost,
      message: `"${written.dockerHost}" and dockerContext "${written.dockerContext}" both pick the engine; keep one`,
    });
  }
  return {
    name,
    backend,
    ...(written.dockerContext ? { dockerContext: written.dockerContext } : {}),
    ...(written.hosts ? { hosts: written.hosts } : {}),
    ...(written.dockerHost ? { dockerHost: written.dockerHost } : {}),
    ...(written.kubeContext ? { kubeContext: written.kubeContext } : {}),
    ...(written.kubeconfig ? { kubeconfig: resolve(project.root, written.kubeconfig) } : {}),
    namespace: written.namespace ?? config.project,
    ...(written.imagePullSecrets?.length ? { imagePullSecrets: written.imagePullSecrets } : {}),
    ...(written.registryAuth === false ? { registryAuth: false as const } : {}),
    ...(written.swarm
      ? {
          swarm: {
            portMode: written.swarm.portMode ?? "ingress",
            endpointMode: written.swarm.endpointMode ?? "vip",
          },
        }
      : {}),
    ...(written.proxy ? { proxy: normalizeProxy(written.proxy) } : {}),
    pull: written.pull ?? config.defaultPull ?? "missing",
    state: written.state ?? "local",
    env: written.env ?? {},
  };
}

/** A target's `hosts`: compose only, without a dockerContext, each host once, state kept locally. */
function checkHosts(
  project: { root: string; configFile?: string },
  name: string,
  backend: BackendName,
  written: z.output<typeof TargetSchema>,
): void {
  const file = project.configFile ? displayPath(project.root, project.configFile) : "kaupang.config";
  const hosts = written.hosts ?? [];
  const at = (path: (string | number)[], value: unknown, message: string) =>
    fieldError({ file, path: ["targets", name, ...path], value, message });
  if (backend !== "compose")
    throw at(
      ["hosts"],
      hosts,
      `hosts are for the compose backend (one engine per host); target "${name}" deploys with ${backend}: give its manager as dockerContext instead`,
    );
  if (written.dockerContext)
    throw at(
      ["dockerContext"],
      written.dockerContext,
      `${showValue(written.dockerContext)}: a target has either dockerContext or hosts, not both`,
    );
  if (written.dockerHost)
    throw at(
      ["dockerHost"],
      written.dockerHost,
      `${showValue(written.dockerHost)}: a target has either dockerHost or hosts, not both`,
    );
  const seen = new Set<string>();
  hosts.forEach((host, index) => {
    if (seen.has(host)) throw at(["hosts", index], host, `${showValue(host)}: this host is listed twice`);
    seen.add(host);
  });
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
    const environmentNetworks = namedDefinitions(env.networks);
    const environmentVolumes = namedDefinitions(env.volumes);
    for (const [kind, defs] of [
      ["networks", environmentNetworks],
      ["volumes", environmentVolumes],
    ] as const) {
      for (const key of Object.keys(defs)) {
        if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(key)) {
          throw fieldError({
            file,
            path: [kind, key],
            message: `"${key}" is not a valid ${kind.slice(0, -1)} name`,
          });
        }
      }
    }
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
        // Overrides: beside "$catalog" (what use() writes) and/or under "overrides" (the original's JSON form).
        const { $catalog: _ignored, overrides: nested, ...siblings } = service;
        const overrides = nested ? (deepMerge(siblings, nested) as ValidService) : siblings;
        imageFromPreset = overrides.image === undefined;
        service = deepMerge(base, overrides) as ValidService;
      } else if (service.overrides !== undefined) {
        throw fieldError({
          file,
          path: ["services", serviceName, "overrides"],
          message:
            'overrides apply to a catalog preset: add "$catalog", or write the settings on the service itself',
        });
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
        env: mergeEnv(config.globalEnv, env.env, target.env, written.extraEnv, service.env),
        pin: written.pins?.[`${name}.${serviceName}`],
        preset,
      });
    }
    for (const service of Object.values(services)) {
      service.dependsOn.forEach((dep) => {
        if (!own(services, dep)) {
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
      networks: environmentNetworks,
      volumes: environmentVolumes,
      ...(env.pull ? { pull: env.pull as PullPolicy } : {}),
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
    throw fieldError({
      file,
      path,
      message: "a service needs an image, a build, or a catalog preset ($catalog / use())",
    });
  }
  const image =
    input.pin ?? (input.imagePrefixed ? prefixImage(writtenImage, input.repository) : writtenImage);
  // Docker's reference rules, at plan time: a dry-run must not pass what `docker pull` refuses.
  const problem = imageReferenceProblem(image);
  if (problem !== undefined) {
    const how =
      image === writtenImage
        ? ""
        : input.pin !== undefined
          ? ` (pinned by the solution as ${showValue(image)})`
          : ` (with dockerRepository: ${showValue(image)})`;
    throw fieldError({
      file,
      path: [...path, "image"],
      value: writtenImage,
      message: `${showValue(writtenImage)}${how} is not a valid image reference: ${problem}`,
    });
  }
  const ports = (s.ports ?? []).flatMap((port) => parsePorts(port)!);
  const published = new Set<string>();
  for (const port of ports) {
    if (port.published === undefined) continue;
    const key = `${port.hostIp ?? ""}:${port.published}/${port.protocol}`;
    if (published.has(key)) {
      throw fieldError({
        file,
        path: [...path, "ports"],
        value: `${port.published}/${port.protocol}`,
        message: `host port ${port.published}/${port.protocol} is published twice`,
      });
    }
    published.add(key);
  }
  if (s.workingDir !== undefined && s.workingDirectory !== undefined && s.workingDir !== s.workingDirectory) {
    throw fieldError({
      file,
      path: [...path, "workingDirectory"],
      value: s.workingDirectory,
      message: `"${s.workingDirectory}" differs from workingDir "${s.workingDir}"; keep one`,
    });
  }
  for (const network of s.networks ?? []) {
    if (!input.networks.includes(network)) {
      throw fieldError({
        file,
        path: [...path, "networks"],
        value: network,
        message: `network "${network}" is not declared in the environment's networks${didYouMean(network, input.networks)}${input.networks.length ? ` (declared: ${input.networks.join(", ")})` : ""}`,
      });
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
  if (s.http !== undefined) {
    out.routes = normalizeRoutes({ http: s.http, ports, runOnce: out.runOnce, file, path });
  }
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

/** `["a"]` or `{ a: null | {…} }` → `{ a: {…} }` (environment networks and volumes), keys sorted. */
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
