import { KaupangError } from "../base/errors.js";
import { engineMessage, withEngine } from "../exec/docker-engine.js";
import { exec } from "../exec/exec.js";
import { formatCommand } from "../exec/format.js";
import { dockerGlobalArgs, networkCommand, networkRemoveCommand } from "../plan/commands.js";
import { projectNetworkName } from "../render/names.js";
import type { BackendContext } from "./backend.js";

/** What kaupang needs to know of the project network; undefined when it does not exist. */
interface NetworkState {
  driver: string;
  /** Containers attached on this engine. */
  containers: number;
}

const prefetched = new WeakMap<BackendContext, Promise<NetworkState | undefined>>();

function inspectNetwork(ctx: BackendContext): Promise<NetworkState | undefined> {
  const name = projectNetworkName(ctx.project);
  return withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request<{ Driver: string; Containers?: Record<string, unknown> }>(
        "GET",
        `/networks/${encodeURIComponent(name)}`,
      );
      if (reply.status !== 200) return undefined;
      return { driver: reply.body.Driver, containers: Object.keys(reply.body.Containers ?? {}).length };
    },
    async () => {
      const result = await exec(
        [
          "docker",
          ...dockerGlobalArgs(ctx.target),
          "network",
          "inspect",
          "--format",
          "{{.Driver}} {{len .Containers}}",
          name,
        ],
        { quiet: true },
      );
      if (result.exitCode !== 0) return undefined;
      const [driver = "", containers = "0"] = result.stdout.trim().split(" ");
      return { driver, containers: Number(containers) };
    },
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

const ensured = new WeakMap<BackendContext, Promise<void>>();

/**
 * Create the project's shared network when missing, so services of one
 * environment reach those of the environments it depends on by name. Once
 * per deploy: environments deploying side by side share the one check.
 */
export function ensureProjectNetwork(ctx: BackendContext, scope: string): Promise<void> {
  let pending = ensured.get(ctx);
  if (!pending) {
    pending = ensureNetwork(ctx, scope);
    ensured.set(ctx, pending);
  }
  return pending;
}

async function ensureNetwork(ctx: BackendContext, scope: string): Promise<void> {
  const name = projectNetworkName(ctx.project);
  const network = await (prefetched.get(ctx) ?? inspectNetwork(ctx));
  prefetched.delete(ctx);
  const swarm = ctx.target.backend === "swarm";
  if (network) {
    if (swarm && network.driver !== "overlay") {
      throw new KaupangError(
        "ERR_NETWORK_CONFLICT",
        `network "${name}" exists with driver ${network.driver}, but swarm needs an attachable overlay network`,
        {
          hint: `remove it (docker network rm ${name}) after taking down the compose environments that use it`,
        },
      );
    }
    return;
  }
  const create = networkCommand(ctx);
  const failure = await withEngine(
    ctx.target,
    async (engine) => {
      ctx.events({ type: "command", scope, command: formatCommand(create.argv) });
      const reply = await engine.request("POST", "/networks/create", {
        Name: name,
        CheckDuplicate: true,
        ...(swarm ? { Driver: "overlay", Attachable: true } : {}),
      });
      return reply.status === 201 ? undefined : engineMessage(reply);
    },
    async () => {
      const result = await exec(create.argv, { events: ctx.events, scope });
      return result.exitCode === 0 ? undefined : (result.stderr.trim().split("\n").pop() ?? "");
    },
  );
  // Another kaupang may have created it a moment ago: that is fine.
  if (failure !== undefined && !/already exists/.test(failure)) {
    throw new KaupangError("ERR_COMMAND_FAILED", `creating network "${name}" failed: ${failure}`, {
      hint: `command: ${formatCommand(create.argv)}`,
    });
  }
}

/** Remove the project network once nothing uses it any more (after a down). */
export async function removeProjectNetworkIfUnused(ctx: BackendContext, scope: string): Promise<void> {
  const name = projectNetworkName(ctx.project);
  const network = await inspectNetwork(ctx);
  if (network?.containers !== 0) return;
  // Another environment may attach between the check and the removal: then the
  // engine refuses ("active endpoints") and the network stays, as it should.
  const removed = await withEngine(
    ctx.target,
    async (engine) => {
      const reply = await engine.request("DELETE", `/networks/${encodeURIComponent(name)}`);
      return reply.status === 204;
    },
    async () => (await exec(networkRemoveCommand(ctx).argv, { quiet: true })).exitCode === 0,
  );
  if (removed) ctx.events({ type: "stage", scope, message: `removed unused network ${name}` });
}
