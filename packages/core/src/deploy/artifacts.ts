import { mkdir, rename, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { BackendName } from "../config/model.js";
import { waveArtifactPath } from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { artifactDocuments, toYaml, toYamlStream } from "../render/yaml.js";

/** Write a file atomically (temp file + rename), creating its directory. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(temp, content);
  await rename(temp, path);
}

/** The part of an artifact holding only `services` (a stage of a staged deploy). */
export function waveArtifact(backend: BackendName, content: string, services: readonly string[]): string {
  if (backend === "swarm") {
    const doc = artifactDocuments(content)[0] as { services: Record<string, unknown> };
    const subset = Object.fromEntries(
      Object.entries(doc.services).filter(([name]) => services.includes(name)),
    );
    return toYaml({ ...doc, services: subset });
  }
  if (backend === "kubernetes") {
    const docs = artifactDocuments(content) as { kind: string; metadata: { name: string } }[];
    // Every stage applies the namespace and the volume claims (idempotent) before its workloads.
    return toYamlStream(
      docs.filter(
        (d) =>
          d.kind === "Namespace" || d.kind === "PersistentVolumeClaim" || services.includes(d.metadata.name),
      ),
    );
  }
  return content;
}

/**
 * Write an environment's artifact, and for staged backends one file per wave,
 * under the config root. Returns the absolute artifact path.
 */
export async function writeArtifacts(
  root: string,
  backend: BackendName,
  env: EnvironmentPlan,
): Promise<string> {
  const path = resolve(root, env.artifact.path);
  await writeFileAtomic(path, env.artifact.content);
  if (backend !== "compose" && env.waves.length > 1) {
    await Promise.all(
      env.waves.map((wave, i) =>
        writeFileAtomic(
          resolve(root, waveArtifactPath(env.artifact.path, i + 1)),
          waveArtifact(backend, env.artifact.content, wave),
        ),
      ),
    );
  }
  return path;
}
