/**
 * The target types every layer shares. A config's `targets` entry is
 * normalised into the Model's `Target` (config/model.ts); what a plan, a
 * recorded unit and a backend need to reach that target is its
 * `TargetSettings`: the same without the pull policy, which the plan carries
 * once for the run.
 */

export type BackendName = "compose" | "swarm" | "kubernetes";
export type PullPolicy = "always" | "missing" | "never";
/** Where a target's deploy state (ledger, units, lock) lives: this machine's cacheDir, or the target itself. */
export type StateMode = "local" | "target";

/** How to reach a target: which backend, which docker or kube context, which namespace. */
export interface TargetSettings {
  name: string;
  backend: BackendName;
  dockerContext?: string;
  /**
   * Docker hosts the target deploys to, one after the other (`ssh://[user@]host[:port]`);
   * compose only. A deployment unit for one of them has that host as `dockerHost`.
   */
  hosts?: string[];
  /** The engine address for docker commands (docker --host, what DOCKER_HOST sets); for a unit on one of a target's hosts, that host. */
  dockerHost?: string;
  kubeContext?: string;
  /** Absolute path. */
  kubeconfig?: string;
  namespace: string;
  /** Kubernetes: existing Secrets (kubernetes.io/dockerconfigjson) in the namespace every pod pulls its image with. */
  imagePullSecrets?: string[];
  /**
   * Kubernetes: false when the deployer's docker login must not be passed to the
   * cluster as the environment's pull Secret (set only when the target says so).
   */
  registryAuth?: false;
  /** Swarm networking; set only when the target configures it. */
  swarm?: { portMode: "ingress" | "host"; endpointMode: "vip" | "dnsrr" };
  /** The HTTP proxy; set only when the target configures it (routes use the defaults otherwise). */
  proxy?: ProxySettings;
}

/** How routes reach services: the Caddy proxy (compose, swarm) or the Ingress class (Kubernetes). */
export interface ProxySettings {
  /** Container (compose) or service (swarm) name; one proxy per engine. */
  name: string;
  image: string;
  /** Host ports the proxy publishes for HTTP and HTTPS. */
  httpPort: number;
  httpsPort: number;
  /** host:port where kaupang reaches Caddy's admin API. */
  adminAddress: string;
  /** How long old containers may finish their requests after a switch. */
  drainTimeoutMs: number;
  ingressClassName?: string;
  /** A raw Caddy server object, installed as server `kaupang.<project>`. */
  server?: Record<string, unknown>;
}
