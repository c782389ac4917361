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

/**
 * Local image IDs of many refs with one `docker image inspect`; refs that are
 * not on the engine are absent from the map. (docker prints one line per
 * image it found, in order, so a partial answer is retried ref by ref.)
 */
export async function localImageIds(
  target: PlanTarget,
  refs: readonly string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(refs)];
  const ids = new Map<string, string>();
  if (unique.length === 0) return ids;
  const result = await exec(
    ["docker", ...dockerGlobalArgs(target), "image", "inspect", "--format", "{{.Id}}", ...unique],
    { quiet: true },
  );
  const lines = result.stdout.split("\n").filter((l) => l.startsWith("sha256:"));
  if (result.exitCode === 0 && lines.length === unique.length) {
    unique.forEach((ref, i) => {
      ids.set(ref, lines[i]!);
    });
    return ids;
  }
  for (const ref of unique) {
    const id = await localImageId(target, ref);
    if (id) ids.set(ref, id);
  }
  return ids;
}
