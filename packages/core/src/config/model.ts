/**
 * The normalised form of a config for one target: plain, JSON-serialisable
 * data with every default applied and no functions. Everything downstream
 * (plan, render, apply) is a function of this.
 */
import type { BackendName, PullPolicy, StateMode, TargetSettings } from "../base/target.js";
import type { PortMapping } from "./ports.js";

export type { BackendName, PullPolicy };

/** A literal env value, or a reference to a host variable that is never written anywhere. */
export type EnvValue = string | { $secret: string };

export interface Hook {
  run: string;
  /** Absolute directory the hook runs in. */
  cwd: string;
  env: Record<string, string>;
}

export interface Healthcheck {
  /** Compose form: ["CMD", …] or ["CMD-SHELL", "…"]. */
  test: string[];
  intervalMs?: number;
  timeoutMs?: number;
  retries?: number;
  startPeriodMs?: number;
}

export interface BuildSpec {
  /** Relative to the config root, as written. */
  context: string;
  dockerfile?: string;
  args: Record<string, string>;
  target?: string;
}

/** One way a service is reached over HTTP through the proxy. */
export interface Route {
  host: string;
  /** Path prefix, "/" for everything; requests keep their path. */
  path: string;
  /** The container port requests go to (one the service exposes). */
  port: number;
  tls: "auto" | "internal" | "off";
  /** Kubernetes: the Secret with the certificate (routes with TLS). */
  tlsSecret?: string;
}

export interface Service {
  name: string;
  /** The image reference after `dockerRepository` prefixing. */
  image: string;
  /** Catalog preset the service came from, if any. */
  preset?: string;
  build?: BuildSpec;
  ports: PortMapping[];
  /** Merged by precedence: globalEnv < environment < target < solution < service. Keys sorted. */
  env: Record<string, EnvValue>;
  command?: string | string[];
  entrypoint?: string | string[];
  workingDir?: string;
  volumes: string[];
  healthcheck?: Healthcheck;
  restart?: "no" | "always" | "on-failure" | "unless-stopped";
  runOnce: boolean;
  replicas: number;
  labels: Record<string, string>;
  pull?: PullPolicy;
  /** HTTP routes through the proxy; absent when the service declares none. */
  routes?: Route[];
  dependsOn: string[];
  /** Linux capabilities, as written (compose/swarm cap_add/cap_drop; Kubernetes without "CAP_"). */
  capAdd: string[];
  capDrop: string[];
  /** Environment networks this service joins, besides the project network. */
  networks: string[];
  resources?: { cpus?: string; memoryBytes?: number };
  compose: Record<string, unknown>;
  kubernetes: Record<string, unknown>;
}

/** An environment's network or volume: compose's top-level `networks`/`volumes` entry. */
export interface NamedResource {
  name?: string;
  external?: boolean;
  driver?: string;
  driverOpts?: Record<string, string>;
  internal?: boolean;
  labels?: Record<string, string>;
}

export interface Environment {
  name: string;
  /** Path of the environment file, relative to the config root. */
  file: string;
  dependsOn: string[];
  services: Record<string, Service>;
  /** Named networks and volumes the environment declares (compose and swarm), keys sorted. */
  networks: Record<string, NamedResource>;
  volumes: Record<string, NamedResource>;
  /** Pull policy for services that set none (swarm: this environment's --resolve-image). */
  pull?: PullPolicy;
  hooks: { beforeUp: Hook[]; afterUp: Hook[]; beforeDown: Hook[]; afterDown: Hook[] };
}

/** The selected target: how to reach it, and its pull policy. */
export interface Target extends TargetSettings {
  pull: PullPolicy;
  /** Where the ledger and the deploy lock live (not part of what a unit replays). */
  state: StateMode;
}

export interface Model {
  project: string;
  /** Absolute directory of the config file; relative paths in the config resolve against it. */
  root: string;
  /** Config file name relative to root. */
  configFile: string;
  /** Absolute cache directory (generated artifacts, ledger). */
  cacheDir: string;
  target: Target;
  environments: Record<string, Environment>;
}
