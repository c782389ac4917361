/**
 * A compose project, as `docker compose config --format json` prints it
 * (files merged, `extends` and anchors resolved, every field in its long
 * form), → kaupang environments and a report of what did not convert.
 * Pure: the reading is `compose-read.ts`.
 *
 * The rules (documented in the README, section "From docker-compose"):
 * - services without `profiles` form the main environment; each profile is
 *   an environment of its own that depends on the main one (like
 *   `docker compose --profile p up`, which starts both);
 * - every field kaupang models converts natively; a few compose-only fields
 *   that need nothing else of the file are kept in the service's `compose:`
 *   escape hatch (compose and swarm only); everything else is reported.
 */
import { isAbsolute, relative } from "node:path";
import { showValue } from "../base/errors.js";
import { isValidName } from "../config/schema.js";
import { dockerMemory } from "../render/shared.js";
import { parseInterpolation } from "./interpolation.js";
import { configValue, projectNameFrom } from "./scaffold.js";
import { EnvExpr, type InitFormat, SecretExpr, type SourceValue } from "./source.js";

/** What `docker compose config --format json` prints, as far as kaupang reads it. */
export interface ComposeProject {
  name?: string;
  services?: Record<string, Record<string, unknown>>;
  volumes?: Record<string, Record<string, unknown> | null>;
  networks?: Record<string, Record<string, unknown> | null>;
  secrets?: Record<string, unknown>;
  configs?: Record<string, unknown>;
  [key: string]: unknown;
}

export type ReportKind = "not-converted" | "changed" | "compose-only";

export interface ReportLine {
  kind: ReportKind;
  /** Where in the compose file, e.g. `services.web.networks`. */
  path: string;
  message: string;
}

export interface ConvertedEnvironment {
  name: string;
  /** Kaupang service names, in compose order. */
  services: string[];
  /** The compose profile the environment holds, if it is one. */
  profile?: string;
  dependsOn: string[];
  value: { [key: string]: SourceValue | undefined };
}

export interface Conversion {
  project: string;
  config: SourceValue;
  environments: ConvertedEnvironment[];
  report: ReportLine[];
}

interface ConvertOptions {
  /** The project with variables interpolated (what compose would deploy now). */
  resolved: ComposeProject;
  /** The same project read with --no-interpolate: where `${VAR}` was written. */
  raw?: ComposeProject | undefined;
  /** Directory the kaupang project is written to; paths become relative to it. */
  outDir: string;
  format: InitFormat;
  /** Variables the user opted in to turn into secret("VAR"): all, or these names. */
  secrets?: "all" | readonly string[] | undefined;
  project?: string | undefined;
  /** Name of the environment for services without a profile; default "app". */
  environment?: string | undefined;
}

/** Fields kept in the `compose:` escape hatch: self-contained, meaningful to compose and swarm. */
const composeOnly = new Set([
  "annotations",
  "cgroup_parent",
  "cpu_shares",
  "cpuset",
  "devices",
  "dns",
  "dns_opt",
  "dns_search",
  "domainname",
  "expose",
  "extra_hosts",
  "group_add",
  "hostname",
  "init",
  "ipc",
  "isolation",
  "logging",
  "mem_reservation",
  "mem_swappiness",
  "memswap_limit",
  "oom_kill_disable",
  "oom_score_adj",
  "pid",
  "pids_limit",
  "platform",
  "privileged",
  "read_only",
  "runtime",
  "security_opt",
  "shm_size",
  "stdin_open",
  "stop_grace_period",
  "stop_signal",
  "storage_opt",
  "sysctls",
  "tmpfs",
  "tty",
  "ulimits",
  "user",
  "userns_mode",
]);

/** Why a field kaupang does not model is not converted. */
const notConvertedWhy: Record<string, string> = {
  container_name: "kaupang names containers itself (<project>-<environment>-<service>-N)",
  links: "services of a project reach each other by service name without links",
  external_links: "kaupang has no links; reach other containers through the project network",
  network_mode: "every kaupang service joins the project network",
  secrets: 'compose secrets are not modelled; use env with secret("VAR"), or a volume',
  configs: "compose configs are not modelled; mount the file as a volume",
  develop: "compose watch is a development loop kaupang does not run",
  env_file: "",
  label_file: "",
  gpus: "kaupang has no GPU field",
  credential_spec: "kaupang has no credential_spec field",
  volumes_from: "kaupang has no volumes_from; mount the same named volume in both services",
  post_start: "lifecycle hooks of containers are not modelled; use environment hooks",
  pre_stop: "lifecycle hooks of containers are not modelled; use environment hooks",
  provider: "compose providers are not modelled",
  models: "compose models are not modelled",
  use_api_socket: "not modelled",
  attach: "kaupang does not attach to service output",
  mac_address: "not modelled",
  blkio_config: "not modelled",
  cpu_count: "not modelled",
  cpu_percent: "not modelled",
  cpu_period: "not modelled",
  cpu_quota: "not modelled",
  cpu_rt_period: "not modelled",
  cpu_rt_runtime: "not modelled",
  cpu_period_us: "not modelled",
  device_cgroup_rules: "not modelled",
};

const handled = new Set([
  "cap_add",
  "cap_drop",
  "image",
  "build",
  "command",
  "entrypoint",
  "working_dir",
  "environment",
  "ports",
  "volumes",
  "healthcheck",
  "restart",
  "depends_on",
  "profiles",
  "labels",
  "deploy",
  "mem_limit",
  "cpus",
  "scale",
  "pull_policy",
  "networks",
]);

type Service = Record<string, unknown>;
type Out = { [key: string]: SourceValue | undefined };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Milliseconds in the one-unit form kaupang's durations take. */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const durationUnits: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration as compose prints it ("1m30s", "500ms") → milliseconds, or undefined. */
export function goDurationMs(text: unknown): number | undefined {
  if (typeof text === "number") return text / 1e6;
  if (typeof text !== "string" || text === "") return undefined;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * durationUnits[m[2]!]!;
    consumed += m[0].length;
  }
  return consumed === text.length ? Math.round(total) : undefined;
}

/** Kubernetes label rules: kaupang's labels reach every backend, others stay in compose. */
function kubeLabelOk(key: string, value: string): boolean {
  const nameOk = (n: string) => /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/.test(n);
  const slash = key.lastIndexOf("/");
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  const name = slash === -1 ? key : key.slice(slash + 1);
  if (prefix !== undefined && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(prefix)) return false;
  return nameOk(name) && (value === "" || nameOk(value));
}

class Converter {
  readonly report: ReportLine[] = [];
  /** compose name → kaupang name. */
  readonly names = new Map<string, string>();
  private readonly secrets: (variable: string) => boolean;

  constructor(private readonly options: ConvertOptions) {
    const chosen = options.secrets;
    this.secrets = chosen === "all" ? () => true : chosen ? (v) => chosen.includes(v) : (_v: string) => false;
  }

  add(kind: ReportKind, path: string, message: string): void {
    this.report.push({ kind, path, message });
  }

  /** A path relative to the output directory, in the "./x" form compose and kaupang read as a path. */
  path(source: string): string {
    if (!isAbsolute(source)) return source;
    const rel = relative(this.options.outDir, source);
    if (rel === "") return ".";
    if (rel.startsWith("..")) return rel.split("/").length > 3 ? source : rel;
    return `./${rel}`;
  }

  /**
   * A string compose interpolated: the expression that reads the same
   * variables when the config loads (TypeScript and JavaScript), or the value
   * it has now (JSON, with a report line).
   */
  interpolated(path: string, resolved: string, raw: unknown): SourceValue {
    if (typeof raw !== "string" || raw === resolved || !raw.includes("$")) return resolved;
    const parsed = parseInterpolation(raw);
    if ("unsupported" in parsed) {
      this.add(
        "changed",
        path,
        `${parsed.unsupported} is written with its current value ${showValue(resolved)}`,
      );
      return resolved;
    }
    if (!parsed.parts.some((p) => typeof p !== "string")) return parsed.parts.join("");
    if (this.options.format === "json") {
      this.add(
        "changed",
        path,
        `${showValue(raw)} is written with its current value ${showValue(resolved)} (JSON has no expressions; use --format ts to keep reading the variable)`,
      );
      return resolved;
    }
    return new EnvExpr(parsed.parts);
  }

  envValue(service: string, key: string, resolved: unknown, raw: unknown): SourceValue | undefined {
    const path = `services.${service}.environment.${key}`;
    // `- KEY` (no value) reads null raw; interpolated, compose has filled in the host's value if set.
    if (resolved === null || resolved === undefined || raw === null) {
      // `- KEY` with no value: the container gets the host's variable at runtime.
      this.add(
        "changed",
        path,
        `no value (passed from the host's environment): written as secret("${key}"), which kaupang requires to be set when it deploys`,
      );
      return new SecretExpr(key);
    }
    const value = String(resolved);
    if (typeof raw !== "string" || !raw.includes("$")) return value;
    const parsed = parseInterpolation(raw);
    if ("unsupported" in parsed) {
      this.add(
        "changed",
        path,
        `${parsed.unsupported} is written with its current value ${showValue(value)}`,
      );
      return value;
    }
    const variables = parsed.parts.filter((p) => typeof p !== "string");
    if (variables.length === 0) return parsed.parts.join("");
    const [only] = parsed.parts;
    const whole = parsed.parts.length === 1 && typeof only !== "string" && only !== undefined;
    const wanted = variables.filter((v) => this.secrets(v.variable));
    if (whole && wanted.length === 1) {
      if (only.fallback) {
        this.add(
          "changed",
          path,
          `${raw} has a default, which secret() cannot hold; ${this.options.format === "json" ? "written with its current value" : "read from the environment when the config loads"}`,
        );
      } else return new SecretExpr(only.variable);
    } else if (wanted.length > 0) {
      this.add(
        "changed",
        path,
        `${raw} embeds ${wanted.map((v) => v.variable).join(", ")} in a longer value; secret() holds a whole value, so it is ${this.options.format === "json" ? "written with its current value" : "read from the environment when the config loads (and recorded)"}`,
      );
    }
    if (this.options.format === "json") {
      this.add(
        "changed",
        path,
        `${showValue(raw)} is written with its current value ${showValue(value)} (JSON has no expressions: use --secrets for secret("VAR"), or --format ts)`,
      );
      return value;
    }
    return new EnvExpr(parsed.parts);
  }

  service(name: string, s: Service, raw: Service | undefined, once: boolean): Out {
    const at = (field: string) => `services.${name}.${field}`;
    const out: Out = {};
    const compose: Record<string, SourceValue> = {};
    const kaupangName = this.names.get(name)!;
    this.noteInterpolation(name, raw, s);

    if (typeof s.image === "string") {
      out.image = this.interpolated(at("image"), s.image, raw?.image);
    } else if (kaupangName !== name || this.renamedProject) {
      // compose names a built image <project>-<service>; kaupang the same with its own names.
      out.image = `${this.composeProject}-${name}`;
    }

    if (s.build !== undefined) out.build = this.build(name, s.build);
    for (const field of ["command", "entrypoint"] as const) {
      const value = s[field];
      if (value === undefined || value === null) continue;
      if (Array.isArray(value) && value.length === 0) {
        this.add("not-converted", at(field), `an empty ${field} (reset to none) has no kaupang form`);
        continue;
      }
      out[field] = Array.isArray(value) ? value.map(String) : String(value);
    }
    if (typeof s.working_dir === "string") out.workingDir = s.working_dir;
    if (Array.isArray(s.cap_add) && s.cap_add.length > 0) out.capAdd = s.cap_add.map(String);
    if (Array.isArray(s.cap_drop) && s.cap_drop.length > 0) out.capDrop = s.cap_drop.map(String);

    if (isObject(s.environment)) {
      const env: Out = {};
      const rawEnv = isObject(raw?.environment) ? raw.environment : {};
      for (const [key, value] of Object.entries(s.environment)) {
        const converted = this.envValue(name, key, value, rawEnv[key]);
        if (converted !== undefined) env[key] = converted;
      }
      if (Object.keys(env).length > 0) out.env = env;
    }
    if (Array.isArray(raw?.env_file) && raw.env_file.length > 0) {
      const files = raw.env_file.map((f) => this.path(isObject(f) ? String(f.path) : String(f)));
      this.add(
        "changed",
        at("env_file"),
        `${files.join(", ")}: its variables are written into env (review them: a secret there is now in your config; use secret("VAR") instead)`,
      );
    }

    const ports = this.ports(name, s.ports);
    if (ports.length > 0) out.ports = ports;
    const volumes = this.volumes(name, s.volumes, compose);
    if (volumes.length > 0) out.volumes = volumes;
    const healthcheck = this.healthcheck(name, s.healthcheck);
    if (healthcheck) out.healthcheck = healthcheck;

    const restart = typeof s.restart === "string" ? s.restart : undefined;
    if (once) {
      out.runOnce = true;
      if (restart !== undefined && restart !== "no" && !restart.startsWith("on-failure")) {
        this.add(
          "changed",
          at("restart"),
          `${showValue(restart)}: others wait for it to complete, so it is a one-shot task (runOnce) and is not restarted`,
        );
      }
    } else if (restart === "always" || restart === "unless-stopped") out.restart = restart;
    else if (restart?.startsWith("on-failure")) {
      // A Kubernetes Deployment restarts its pods whatever the exit: kept for compose only.
      compose.restart = restart;
      this.add(
        "compose-only",
        at("restart"),
        `"${restart}" is kept for compose; swarm and Kubernetes restart the service whenever it stops`,
      );
    } else if (restart !== undefined && restart !== "no") {
      this.add("not-converted", at("restart"), `${showValue(restart)} is not a restart policy kaupang knows`);
    }

    this.deploy(name, s, out);
    if (typeof s.pull_policy === "string") {
      // Per-service pull exists on compose only (swarm pulls per stack, Kubernetes per target).
      compose.pull_policy = s.pull_policy;
      this.add(
        "compose-only",
        at("pull_policy"),
        `${showValue(s.pull_policy)} is kept for compose (swarm and Kubernetes pull per target: set pull on the target)`,
      );
    }
    if (isObject(s.labels) && Object.keys(s.labels).length > 0) {
      const labels: Record<string, string> = {};
      const composeLabels: Record<string, string> = {};
      for (const [key, value] of Object.entries(s.labels)) {
        if (kubeLabelOk(key, String(value))) labels[key] = String(value);
        else composeLabels[key] = String(value);
      }
      if (Object.keys(labels).length > 0) out.labels = labels;
      if (Object.keys(composeLabels).length > 0) {
        compose.labels = composeLabels;
        this.add(
          "compose-only",
          at("labels"),
          `${Object.keys(composeLabels).join(", ")}: not valid Kubernetes labels, so kept for compose and swarm only`,
        );
      }
    }

    this.networks(name, s, compose);

    for (const [field, value] of Object.entries(s)) {
      if (handled.has(field) || value === null || value === undefined) continue;
      if (field === "env_file" || field === "label_file") continue;
      if (composeOnly.has(field)) {
        compose[field] = value as SourceValue;
        this.add(
          "compose-only",
          at(field),
          "kept in compose: {…} for compose and swarm; not applied on Kubernetes",
        );
        continue;
      }
      const why = notConvertedWhy[field] ?? "kaupang has no equivalent";
      this.add("not-converted", at(field), `${showValue(value)}: ${why}`);
    }
    if (kaupangName !== name) {
      // Other containers may reach it by its compose name.
      compose.networks = { default: { aliases: [name] } };
    }
    if (Object.keys(compose).length > 0) out.compose = compose as SourceValue;
    return out;
  }

  /** Fields other than env and image that were written with variables keep the values they have now. */
  private noteInterpolation(name: string, raw: Service | undefined, resolved: Service): void {
    for (const [field, value] of Object.entries(raw ?? {})) {
      if (["environment", "image", "env_file"].includes(field)) continue;
      const variables = new Set<string>();
      const visit = (v: unknown): void => {
        if (typeof v === "string") {
          const parsed = parseInterpolation(v);
          if ("unsupported" in parsed) variables.add(parsed.unsupported);
          else for (const p of parsed.parts) if (typeof p !== "string") variables.add(`\${${p.variable}}`);
        } else if (Array.isArray(v)) v.forEach(visit);
        else if (isObject(v)) Object.values(v).forEach(visit);
      };
      visit(value);
      if (variables.size === 0) continue;
      this.add(
        "changed",
        `services.${name}.${field}`,
        `uses ${[...variables].join(", ")}: written with the value${variables.size > 1 ? "s" : ""} it has now (${showValue(resolved[field])})`,
      );
    }
  }

  private build(name: string, b: unknown): SourceValue | undefined {
    const at = `services.${name}.build`;
    if (typeof b === "string") return this.path(b);
    if (!isObject(b)) return undefined;
    const out: Out = {};
    const context = typeof b.context === "string" ? this.path(b.context) : ".";
    out.context = context;
    if (typeof b.dockerfile === "string" && b.dockerfile !== "Dockerfile") out.dockerfile = b.dockerfile;
    if (isObject(b.args)) {
      const args: Record<string, string> = {};
      for (const [key, value] of Object.entries(b.args)) {
        if (value === null || value === undefined) {
          this.add(
            "not-converted",
            `${at}.args.${key}`,
            "a build argument without a value (taken from the host) has no kaupang form; give it a value",
          );
        } else args[key] = String(value);
      }
      if (Object.keys(args).length > 0) out.args = args;
    }
    if (typeof b.target === "string") out.target = b.target;
    for (const [field, value] of Object.entries(b)) {
      if (["context", "dockerfile", "args", "target"].includes(field) || value === null) continue;
      this.add(
        "not-converted",
        `${at}.${field}`,
        `${showValue(value)}: kaupang's build has context, dockerfile, args and target`,
      );
    }
    return Object.keys(out).length === 1 ? context : out;
  }

  private ports(name: string, ports: unknown): SourceValue[] {
    if (!Array.isArray(ports)) return [];
    const out: string[] = [];
    ports.forEach((p, i) => {
      const at = `services.${name}.ports[${i}]`;
      if (!isObject(p)) return;
      const target = Number(p.target);
      const protocol = p.protocol === "udp" ? "/udp" : "";
      if (p.protocol !== undefined && p.protocol !== "tcp" && p.protocol !== "udp") {
        this.add("not-converted", at, `protocol ${showValue(p.protocol)}: kaupang maps tcp and udp`);
        return;
      }
      const published = p.published === undefined || p.published === "" ? undefined : String(p.published);
      const hostIp = typeof p.host_ip === "string" && p.host_ip !== "" ? p.host_ip : undefined;
      if (hostIp?.includes(":")) {
        this.add("not-converted", at, `host IP ${hostIp}: kaupang's port mappings take IPv4 host addresses`);
        return;
      }
      if (published !== undefined && !/^\d+$/.test(published)) {
        this.add("not-converted", at, `published ${showValue(published)}: kaupang maps one port to one port`);
        return;
      }
      if (p.mode === "host") {
        this.add(
          "changed",
          at,
          'mode "host": kaupang publishes through the swarm routing mesh unless the target sets swarm.portMode "host"',
        );
      }
      out.push(
        `${hostIp ? `${hostIp}:` : ""}${published !== undefined ? `${published}:` : ""}${target}${protocol}`,
      );
    });
    return out;
  }

  private volumes(name: string, volumes: unknown, compose: Record<string, SourceValue>): SourceValue[] {
    if (!Array.isArray(volumes)) return [];
    const out: string[] = [];
    const tmpfs: string[] = [];
    volumes.forEach((v, i) => {
      const at = `services.${name}.volumes[${i}]`;
      if (!isObject(v)) return;
      const target = String(v.target);
      const ro = v.read_only === true ? ":ro" : "";
      for (const option of ["consistency"] as const) {
        if (v[option] !== undefined)
          this.add("not-converted", `${at}.${option}`, `${showValue(v[option])}: not modelled`);
      }
      if (v.type === "volume") {
        const source = typeof v.source === "string" ? v.source : "";
        if (isObject(v.volume) && Object.keys(v.volume).length > 0) {
          this.add(
            "not-converted",
            `${at}.volume`,
            `${showValue(v.volume)}: volume options are not modelled`,
          );
        }
        out.push(source === "" ? target : `${source}:${target}${ro}`);
      } else if (v.type === "bind") {
        const bind = isObject(v.bind) ? v.bind : {};
        for (const [key, value] of Object.entries(bind)) {
          if (key === "create_host_path" && value === true) continue;
          if (key === "create_host_path") {
            this.add(
              "changed",
              `${at}.bind.create_host_path`,
              "false: kaupang's binds create a missing host path",
            );
          } else if (key === "selinux" && (value === "z" || value === "Z")) {
          } else
            this.add(
              "not-converted",
              `${at}.bind.${key}`,
              `${showValue(value)}: bind options are not modelled`,
            );
        }
        const selinux = bind.selinux === "z" || bind.selinux === "Z" ? String(bind.selinux) : "";
        const options = [ro.slice(1), selinux].filter((o) => o !== "").join(",");
        out.push(`${this.path(String(v.source))}:${target}${options ? `:${options}` : ""}`);
      } else if (v.type === "tmpfs") {
        tmpfs.push(target);
        if (isObject(v.tmpfs))
          this.add("not-converted", `${at}.tmpfs`, `${showValue(v.tmpfs)}: tmpfs options are not modelled`);
      } else {
        this.add("not-converted", at, `a ${showValue(v.type)} mount is not modelled`);
      }
    });
    if (tmpfs.length > 0) {
      compose.tmpfs = tmpfs;
      this.add(
        "compose-only",
        `services.${name}.volumes`,
        `tmpfs ${tmpfs.join(", ")}: kept as compose tmpfs for compose and swarm`,
      );
    }
    return out;
  }

  private healthcheck(name: string, h: unknown): SourceValue | undefined {
    if (!isObject(h)) return undefined;
    const at = `services.${name}.healthcheck`;
    if (h.disable === true) return { test: ["NONE"] };
    if (!Array.isArray(h.test)) return undefined;
    const out: Out = { test: h.test.map(String) };
    for (const [field, key] of [
      ["interval", "interval"],
      ["timeout", "timeout"],
      ["start_period", "startPeriod"],
    ] as const) {
      if (h[field] === undefined) continue;
      const ms = goDurationMs(h[field]);
      if (ms === undefined)
        this.add("not-converted", `${at}.${field}`, `${showValue(h[field])} is not a duration`);
      else out[key] = duration(ms);
    }
    if (typeof h.retries === "number") out.retries = h.retries;
    for (const field of Object.keys(h)) {
      if (!["test", "interval", "timeout", "start_period", "retries", "disable"].includes(field)) {
        this.add("not-converted", `${at}.${field}`, `${showValue(h[field])}: not modelled`);
      }
    }
    return out;
  }

  private deploy(name: string, s: Service, out: Out): void {
    const at = `services.${name}`;
    const d = isObject(s.deploy) ? s.deploy : {};
    const replicas =
      typeof d.replicas === "number" ? d.replicas : typeof s.scale === "number" ? s.scale : undefined;
    if (replicas !== undefined && replicas !== 1) out.replicas = replicas;
    const limits = isObject(d.resources) && isObject(d.resources.limits) ? d.resources.limits : {};
    const cpus = limits.cpus ?? s.cpus;
    const memory = limits.memory ?? s.mem_limit;
    const resources: Out = {};
    if (cpus !== undefined && Number(cpus) > 0) resources.cpus = String(Number(cpus));
    if (memory !== undefined && Number(memory) > 0) resources.memory = dockerMemory(Number(memory));
    if (Object.keys(resources).length > 0) out.resources = resources;
    for (const [field, value] of Object.entries(d)) {
      if (field === "replicas" || (isObject(value) && Object.keys(value).length === 0)) continue;
      if (field === "resources" && isObject(value)) {
        for (const [kind, spec] of Object.entries(value)) {
          if (kind === "limits" && isObject(spec)) {
            for (const [k, v] of Object.entries(spec)) {
              if (k !== "cpus" && k !== "memory") {
                this.add(
                  "not-converted",
                  `${at}.deploy.resources.limits.${k}`,
                  `${showValue(v)}: kaupang limits cpus and memory`,
                );
              }
            }
          } else {
            this.add(
              "not-converted",
              `${at}.deploy.resources.${kind}`,
              `${showValue(spec)}: kaupang sets limits only`,
            );
          }
        }
        continue;
      }
      this.add(
        "not-converted",
        `${at}.deploy.${field}`,
        `${showValue(value)}: kaupang renders deploy itself (replicas and resource limits)`,
      );
    }
  }

  private networks(name: string, s: Service, _compose: Record<string, SourceValue>): void {
    const networks = isObject(s.networks) ? s.networks : {};
    const names = Object.keys(networks);
    const other = names.filter((n) => n !== "default");
    if (other.length > 0) {
      this.add(
        "not-converted",
        `services.${name}.networks`,
        `${other.join(", ")}: every service of a kaupang project joins one network and reaches the others by service name`,
      );
    }
    for (const [network, spec] of Object.entries(networks)) {
      if (!isObject(spec)) continue;
      const keys = Object.keys(spec).filter((k) => spec[k] !== undefined && spec[k] !== null);
      if (keys.length > 0) {
        this.add(
          "not-converted",
          `services.${name}.networks.${network}`,
          `${showValue(spec)}: per-network settings (aliases, addresses) are not modelled`,
        );
      }
    }
  }

  composeProject = "";
  renamedProject = false;
}

/** Convert a compose project into kaupang environments; see the module comment for the rules. */
export function convertCompose(options: ConvertOptions): Conversion {
  const c = new Converter(options);
  // compose prints a literal "$" as "$$" (its output is a compose file again).
  const project = unescapeAll(options.resolved) as ComposeProject;
  const composeProject = typeof project.name === "string" && project.name !== "" ? project.name : "app";
  const name = options.project ?? projectNameFrom(composeProject);
  c.composeProject = composeProject;
  c.renamedProject = name !== composeProject;
  const services = project.services ?? {};
  const rawServices = options.raw?.services ?? {};

  // Kaupang names: lowercase letters, digits and "-".
  const taken = new Set<string>();
  for (const composeName of Object.keys(services)) {
    let kaupangName = isValidName(composeName) ? composeName : projectNameFrom(composeName);
    for (let n = 2; taken.has(kaupangName); n++) kaupangName = `${projectNameFrom(composeName)}-${n}`;
    taken.add(kaupangName);
    c.names.set(composeName, kaupangName);
    if (kaupangName !== composeName) {
      c.add(
        "changed",
        `services.${composeName}`,
        `renamed to "${kaupangName}" (kaupang names are lowercase letters, digits and "-"); compose and swarm keep "${composeName}" as a network alias`,
      );
    }
  }

  // Profiles: the main environment, then one per profile (a service goes to its first profile).
  const main = options.environment ?? "app";
  const environmentOf = new Map<string, string>();
  const profileOf = new Map<string, string>();
  for (const [composeName, s] of Object.entries(services)) {
    const profiles = Array.isArray(s.profiles) ? s.profiles.map(String) : [];
    if (profiles.length === 0) {
      environmentOf.set(composeName, main);
      continue;
    }
    const profile = profiles[0]!;
    let envName = projectNameFrom(profile);
    if (envName === main) envName = `${envName}-profile`;
    environmentOf.set(composeName, envName);
    profileOf.set(envName, profile);
    if (profiles.length > 1) {
      c.add(
        "changed",
        `services.${composeName}.profiles`,
        `${profiles.join(", ")}: a service belongs to one environment, so it is in "${envName}" only`,
      );
    }
  }

  // Service dependencies: conditions decide runOnce; across environments they become environment dependencies.
  const runOnce = new Set<string>();
  for (const s of Object.values(services)) {
    for (const [dep, spec] of Object.entries(isObject(s.depends_on) ? s.depends_on : {})) {
      if (isObject(spec) && spec.condition === "service_completed_successfully") runOnce.add(dep);
    }
  }
  const serviceDeps = new Map<string, string[]>();
  const envDeps = new Map<string, Set<string>>();
  for (const [composeName, s] of Object.entries(services)) {
    const envName = environmentOf.get(composeName)!;
    const deps: string[] = [];
    for (const [dep, spec] of Object.entries(isObject(s.depends_on) ? s.depends_on : {})) {
      const at = `services.${composeName}.depends_on.${dep}`;
      const target = services[dep];
      if (!target) {
        c.add("not-converted", at, `service "${dep}" is not in the converted files`);
        continue;
      }
      const condition =
        isObject(spec) && typeof spec.condition === "string" ? spec.condition : "service_started";
      const depHealthy = isObject(target.healthcheck) && target.healthcheck.disable !== true;
      const kaupangCondition = runOnce.has(dep)
        ? "service_completed_successfully"
        : depHealthy
          ? "service_healthy"
          : "service_started";
      if (condition !== kaupangCondition) {
        const why =
          kaupangCondition === "service_healthy"
            ? `kaupang waits for ${dep}'s healthcheck (service_healthy)`
            : kaupangCondition === "service_completed_successfully"
              ? `${dep} is a one-shot task (runOnce): kaupang waits for it to finish`
              : `${dep} has no healthcheck, so kaupang waits for it to start (service_started)`;
        c.add("changed", at, `condition ${condition}: ${why}`);
      }
      if (isObject(spec) && spec.required === false) {
        c.add("changed", `${at}.required`, "false: kaupang always requires its dependencies");
      }
      if (isObject(spec) && spec.restart === true) {
        const links = Array.isArray(s.links) ? s.links.map((l) => String(l).split(":")[0]) : [];
        c.add(
          "not-converted",
          `${at}.restart`,
          `true${links.includes(dep) ? " (compose sets it for links)" : ""}: kaupang does not restart dependents`,
        );
      }
      const depEnv = environmentOf.get(dep)!;
      if (depEnv === envName) deps.push(c.names.get(dep)!);
      else if (envName === main || envDeps.get(depEnv)?.has(envName)) {
        c.add(
          "not-converted",
          at,
          `${dep} is in environment "${depEnv}" (profile ${showValue(profileOf.get(depEnv))}), which ${envName === main ? "the main environment does not depend on" : `depends on "${envName}" already`}; deploy both`,
        );
      } else {
        const set = envDeps.get(envName) ?? new Set<string>();
        set.add(depEnv);
        envDeps.set(envName, set);
        if (condition !== "service_started") {
          c.add(
            "changed",
            at,
            `${dep} is in environment "${depEnv}": kaupang deploys that environment first and waits for it to be ready`,
          );
        }
      }
    }
    serviceDeps.set(composeName, deps);
  }

  const order = [main, ...[...new Set(environmentOf.values())].filter((e) => e !== main).sort()];
  const environments: ConvertedEnvironment[] = [];
  for (const envName of order) {
    const members = Object.keys(services).filter((s) => environmentOf.get(s) === envName);
    if (members.length === 0) continue;
    const value: Out = {};
    const dependsOn = new Set<string>(envDeps.get(envName) ?? []);
    if (envName !== main && [...environmentOf.values()].includes(main)) dependsOn.add(main);
    dependsOn.delete(envName);
    if (dependsOn.size > 0)
      value.dependsOn = dependsOn.size === 1 ? [...dependsOn][0]! : [...dependsOn].sort();
    const written: Out = {};
    for (const composeName of members) {
      const s = services[composeName]!;
      const once = runOnce.has(composeName);
      const out = c.service(composeName, s, rawServices[composeName], once);
      if (once && out.replicas !== undefined) {
        c.add(
          "changed",
          `services.${composeName}.deploy.replicas`,
          `${out.replicas}: a one-shot task runs once`,
        );
        delete out.replicas;
      }
      const deps = serviceDeps.get(composeName) ?? [];
      if (deps.length > 0) out.dependsOn = deps.length === 1 ? deps[0]! : deps;
      const keys = Object.keys(out);
      written[c.names.get(composeName)!] =
        keys.length === 1 && keys[0] === "image" && typeof out.image === "string" ? out.image : order_(out);
    }
    value.services = written;
    environments.push({
      name: envName,
      services: members.map((m) => c.names.get(m)!),
      ...(profileOf.has(envName) ? { profile: profileOf.get(envName)! } : {}),
      dependsOn: [...dependsOn].sort(),
      value,
    });
  }

  // Named volumes: each environment declares those its services mount, under the docker name
  // compose gave them, so a converted project keeps its data (and an external volume stays external).
  for (const environment of environments) {
    const used = new Set<string>();
    for (const service of Object.values(environment.value.services as Record<string, Out | string>)) {
      if (typeof service === "string") continue;
      for (const spec of (service.volumes as string[] | undefined) ?? []) {
        const [source] = spec.split(":");
        if (spec.includes(":") && source && !/^[./~]/.test(source)) used.add(source);
      }
    }
    if (used.size === 0) continue;
    const declared: Out = {};
    for (const volume of [...used].sort()) {
      const spec = isObject(project.volumes?.[volume]) ? project.volumes![volume]! : {};
      declared[volume] = {
        name: typeof spec.name === "string" ? spec.name : `${composeProject}_${volume}`,
        ...(spec.external === true ? { external: true } : {}),
        ...(isObject(spec.labels) && Object.keys(spec.labels).length > 0
          ? { labels: Object.fromEntries(Object.entries(spec.labels).map(([k, v]) => [k, String(v)])) }
          : {}),
      };
    }
    const { services, ...rest } = environment.value;
    environment.value = { ...rest, volumes: declared, services };
  }
  for (const [volume, spec] of Object.entries(project.volumes ?? {})) {
    if (!isObject(spec)) continue;
    const driver = spec.driver !== undefined && spec.driver !== "local" ? { driver: spec.driver } : {};
    const options = isObject(spec.driver_opts) ? { driver_opts: spec.driver_opts } : {};
    if (Object.keys(driver).length + Object.keys(options).length > 0) {
      c.add(
        "not-converted",
        `volumes.${volume}`,
        `${showValue({ ...driver, ...options })}: a docker volume driver does not carry to Kubernetes (add driver/driverOpts to the environment's volume for compose and swarm only)`,
      );
    }
  }
  for (const network of Object.keys(project.networks ?? {})) {
    if (network === "default") continue;
    c.add(
      "not-converted",
      `networks.${network}`,
      "every service of a kaupang project joins the project's network, on every backend (environment networks exist for compose and swarm, not Kubernetes)",
    );
  }
  for (const key of ["secrets", "configs"] as const) {
    for (const entry of Object.keys(project[key] ?? {})) {
      c.add("not-converted", `${key}.${entry}`, `compose ${key} are not modelled`);
    }
  }

  return { project: name, config: configValue(name), environments, report: c.report };
}

function unescapeAll(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/\$\$/g, "$");
  if (Array.isArray(value)) return value.map(unescapeAll);
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unescapeAll(v)]));
  return value;
}

const fieldOrder = [
  "image",
  "build",
  "command",
  "entrypoint",
  "workingDir",
  "env",
  "ports",
  "volumes",
  "healthcheck",
  "restart",
  "runOnce",
  "replicas",
  "resources",
  "capAdd",
  "capDrop",
  "labels",
  "dependsOn",
  "compose",
];

function order_(out: Out): Out {
  const sorted: Out = {};
  for (const key of fieldOrder) if (out[key] !== undefined) sorted[key] = out[key];
  return sorted;
}
