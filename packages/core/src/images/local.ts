import type { TargetSettings } from "../base/target.js";
import { inspectImages, withEngine } from "../exec/docker-engine.js";
import { exec } from "../exec/exec.js";
import { dockerGlobalArgs } from "../plan/commands.js";

/** The local image ID of `ref` on the target's engine, if it exists there. */
export async function localImageId(target: TargetSettings, ref: string): Promise<string | undefined> {
  return (await localImageIds(target, [ref])).get(ref);
}

async function cliImageId(target: TargetSettings, ref: string): Promise<string | undefined> {
  const result = await exec(
    ["docker", ...dockerGlobalArgs(target), "image", "inspect", "--format", "{{.Id}}", ref],
    { quiet: true },
  );
  const id = result.stdout.trim();
  return result.exitCode === 0 && id.startsWith("sha256:") ? id : undefined;
}

/**
 * Local image IDs of many refs; refs that are not on the engine are absent
 * from the map. Over the CLI, one `docker image inspect` (it prints one line
 * per image it found, in order, so a partial answer is retried ref by ref).
 */
export async function localImageIds(
  target: TargetSettings,
  refs: readonly string[],
): Promise<Map<string, string>> {
  const unique = [...new Set(refs)];
  const ids = new Map<string, string>();
  if (unique.length === 0) return ids;
  return withEngine(
    target,
    async (engine) => {
      (await inspectImages(engine, unique)).forEach((image, i) => {
        if (image) ids.set(unique[i]!, image.Id);
      });
      return ids;
    },
    async () => {
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
        const id = await cliImageId(target, ref);
        if (id) ids.set(ref, id);
      }
      return ids;
    },
  );
}
