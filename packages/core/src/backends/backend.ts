import type { EventSink } from "../base/events.js";
import type { CommandContext } from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";

export interface BackendContext extends CommandContext {
  events: EventSink;
  /** How long one environment may take to converge. */
  timeoutMs: number;
}

/** What one service actually runs, read back from the backend. */
export interface RunningService {
  service: string;
  /** One entry per container or task. */
  instances: {
    /** Registry digests (sha256:…) of the image it runs. */
    digests: string[];
    /** Local image ID (sha256:…), where the backend exposes it. */
    imageId?: string;
    /** The reference it was started with. */
    ref: string;
    /** The container, task or pod name, where the backend exposes it. */
    name?: string;
    /** running, exited, complete, … as the backend says it. */
    state: string;
    /** healthy, unhealthy or starting, for a container with a healthcheck. */
    health?: string;
    /** Exit code of a finished one-shot task, where known. */
    exitCode?: number;
    /** The container's environment, where the backend exposes it. */
    env?: Record<string, string>;
    /** Published ports as "published:target/protocol", where the backend exposes them. */
    ports?: string[];
    /** Whether its readiness check passes, where the backend reports readiness. */
    ready?: boolean;
    /** How often its container restarted, where the backend counts it. */
    restarts?: number;
    /** Why its container is not running (CrashLoopBackOff, ImagePullBackOff, …), where known. */
    waiting?: string;
    /** The image the node actually runs (`repo@sha256:…`), where the backend reports it. */
    running?: string;
  }[];
  /**
   * Why replicas do not run, where the backend knows (swarm: per replica slot
   * without a running task, what ended its last task and on which node).
   */
  gaps?: {
    node?: string;
    /** "failed", "rejected", "node drained", "node paused", "node down", or the pending task's state. */
    cause: string;
    detail?: string;
  }[];
}

/** One deploy target kind. Artifacts are written before apply is called. */
export interface Backend {
  /** Start read-only checks a deploy will need, so they run while images resolve (optional). */
  prepare?(ctx: BackendContext): void;
  /**
   * Checks that must pass before anything of the plan is deployed, with the
   * pinned environments (optional): the proxy of routed environments answers
   * and no other route holds their hosts and paths.
   */
  preflight?(ctx: BackendContext, envs: readonly EnvironmentPlan[]): Promise<void>;
  /** Make the environment match its artifact, and wait until it runs. */
  apply(ctx: BackendContext, env: EnvironmentPlan): Promise<void>;
  /** Remove what kaupang created for the environment, and wait until it is gone. */
  remove(ctx: BackendContext, env: Pick<EnvironmentPlan, "environment" | "artifact">): Promise<void>;
  /** What runs now for the environment's services (read-only). */
  running(
    ctx: BackendContext,
    env: Pick<EnvironmentPlan, "environment" | "artifact" | "runOnce" | "images">,
  ): Promise<RunningService[]>;
  /**
   * Where secret() values live on the target instead of in kaupang's
   * environment (Kubernetes: the cluster Secret): the values of `names` that
   * are there, to fingerprint them. Absent: values come from kaupang's env.
   */
  secretValues?(ctx: BackendContext, names: readonly string[]): Promise<Record<string, string>>;
}
