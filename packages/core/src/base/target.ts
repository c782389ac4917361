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
  kubeContext?: string;
  /** Absolute path. */
  kubeconfig?: string;
  namespace: string;
  /** Swarm networking; set only when the target configures it. */
  swarm?: { portMode: "ingress" | "host"; endpointMode: "vip" | "dnsrr" };
}
