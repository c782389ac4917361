import { resolve } from "node:path";
import { writeFileAtomic } from "../base/fs.js";
import type { EnvironmentPlan } from "../plan/types.js";

/**
 * Write an environment's artifact, and for a staged deploy its wave
 * artifacts, under the config root. Returns the absolute artifact path.
 */
export async function writeArtifacts(
  root: string,
  env: Pick<EnvironmentPlan, "artifact" | "waveArtifacts">,
): Promise<string> {
  const path = resolve(root, env.artifact.path);
  await Promise.all(
    [env.artifact, ...(env.waveArtifacts ?? [])].map((a) =>
      writeFileAtomic(resolve(root, a.path), a.content),
    ),
  );
  return path;
}
