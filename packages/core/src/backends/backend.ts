import type { EventSink } from "../events.js";
import type { CommandContext } from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";

export interface BackendContext extends CommandContext {
  events: EventSink;
  /** How long one environment may take to converge. */
  timeoutMs: number;
}

/** One deploy target kind. Artifacts are written before apply is called. */
export interface Backend {
  /** Make the environment match its artifact, and wait until it runs. */
  apply(ctx: BackendContext, env: EnvironmentPlan): Promise<void>;
  /** Remove what kaupang created for the environment, and wait until it is gone. */
  remove(ctx: BackendContext, env: Pick<EnvironmentPlan, "environment" | "artifact">): Promise<void>;
}
