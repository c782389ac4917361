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
    /** running, exited, complete, … as the backend says it. */
    state: string;
    /** Exit code of a finished one-shot task, where known. */
    exitCode?: number;
    /** The container's environment, where the backend exposes it. */
    env?: Record<string, string>;
    /** Published ports as "published:target/protocol", where the backend exposes them. */
    ports?: string[];
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
}
