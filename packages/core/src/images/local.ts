import { exec } from "../exec/exec.js";
import { dockerGlobalArgs } from "../plan/commands.js";
import type { PlanTarget } from "../plan/types.js";

/** The local image ID of `ref` on the target's engine, if it exists there. */
export async function localImageId(target: PlanTarget, ref: string): Promise<string | undefined> {
  const result = await exec(
    ["docker", ...dockerGlobalArgs(target), "image", "inspect", "--format", "{{.Id}}", ref],
    { quiet: true },
  );
  const id = result.stdout.trim();
  return result.exitCode === 0 && id.startsWith("sha256:") ? id : undefined;
}
