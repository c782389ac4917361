import { KaupangError } from "../errors.js";
import { type ExecResult, exec } from "../exec/exec.js";
import { dockerGlobalArgs, networkCommand } from "../plan/commands.js";
import { projectNetworkName } from "../render/names.js";
import type { BackendContext } from "./backend.js";

const prefetched = new WeakMap<BackendContext, Promise<ExecResult>>();

function inspectNetwork(ctx: BackendContext): Promise<ExecResult> {
  return exec(
    [
      "docker",
      ...dockerGlobalArgs(ctx.target),
      "network",
      "inspect",
      "--format",
      "{{.Driver}}",
      projectNetworkName(ctx.project),
    ],
    { quiet: true },
  );
}

/**
 * Start the (read-only) network check now, so it runs while tags resolve;
 * the first ensureProjectNetwork of this deploy uses its answer.
 */
export function prefetchProjectNetwork(ctx: BackendContext): void {
  const pending = inspectNetwork(ctx);
  pending.catch(() => {}); // reported when ensureProjectNetwork awaits it
  prefetched.set(ctx, pending);
}

/**
 * Create the project's shared network when missing, so services of one
 * environment reach those of the environments it depends on by name.
 */
export async function ensureProjectNetwork(ctx: BackendContext, scope: string): Promise<void> {
  const name = projectNetworkName(ctx.project);
  const inspect = await (prefetched.get(ctx) ?? inspectNetwork(ctx));
  prefetched.delete(ctx);
  const wanted = ctx.target.backend === "swarm" ? "overlay" : undefined;
  if (inspect.exitCode === 0) {
    const driver = inspect.stdout.trim();
    if (wanted && driver !== wanted) {
      throw new KaupangError(
        "ERR_NETWORK_CONFLICT",
        `network "${name}" exists with driver ${driver}, but swarm needs an attachable overlay network`,
        {
          hint: `remove it (docker network rm ${name}) after taking down the compose environments that use it`,
        },
      );
    }
    return;
  }
  const create = networkCommand(ctx);
  const result = await exec(create.argv, { events: ctx.events, scope });
  // Another kaupang may have created it a moment ago: that is fine.
  if (result.exitCode !== 0 && !/already exists/.test(result.stderr)) {
    throw new KaupangError(
      "ERR_COMMAND_FAILED",
      `creating network "${name}" failed: ${result.stderr.trim().split("\n").pop()}`,
      {
        hint: `command: ${result.command}`,
      },
    );
  }
}

/** Remove the project network once nothing uses it any more (after a down). */
export async function removeProjectNetworkIfUnused(ctx: BackendContext, scope: string): Promise<void> {
  const name = projectNetworkName(ctx.project);
  const inspect = await exec(
    [
      "docker",
      ...dockerGlobalArgs(ctx.target),
      "network",
      "inspect",
      "--format",
      "{{len .Containers}}",
      name,
    ],
    { quiet: true },
  );
  if (inspect.exitCode !== 0 || inspect.stdout.trim() !== "0") return;
  // Another environment may attach between the check and the removal: then the
  // engine refuses ("active endpoints") and the network stays, as it should.
  const removed = await exec(["docker", ...dockerGlobalArgs(ctx.target), "network", "rm", name], {
    quiet: true,
  });
  if (removed.exitCode === 0) ctx.events({ type: "stage", scope, message: `removed unused network ${name}` });
}
