/**
 * `oci` source: a catalog published as an OCI artifact (`oras push`), pulled
 * with `oras pull` using the user's existing oras/docker login. `path` picks
 * the file inside the artifact (default catalog.json).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import { KaupangError } from "../../base/errors.js";
import { isLoopbackRegistry, parseImageRef } from "../../base/image-reference.js";
import { exec, tail } from "../../exec/exec.js";
import type { CatalogSource } from "./source.js";

export const orasPlainHttp = (ref: string): string[] =>
  isLoopbackRegistry(parseImageRef(ref).registry) ? ["--plain-http"] : [];

/** `oras pull ref` into a new temporary directory; returns it. */
export async function orasPull(ref: string, what: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kaupang-oras-"));
  const result = await exec(["oras", "pull", ...orasPlainHttp(ref), "-o", dir, ref], {
    quiet: true,
    timeoutMs: 300_000,
  });
  if (result.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new KaupangError(
      "ERR_OCI_PULL",
      `${what} ${ref} could not be pulled (${(tail(result.stderr) || tail(result.stdout)).replace(/^Error: /, "")})`,
      {
        hint: "check the reference and your registry login (oras login / docker login)",
      },
    );
  }
  return dir;
}

export function ociSource(ref: string, path = "catalog.json"): CatalogSource {
  const label = `oci ${ref}`;
  return {
    label,
    async load() {
      const dir = await orasPull(ref, "catalog");
      try {
        const file = join(dir, normalize(path));
        if (!file.startsWith(dir))
          throw new KaupangError("ERR_CATALOG_INVALID", `catalog ${label}: path ${path} leaves the artifact`);
        let text: string;
        try {
          text = await readFile(file, "utf8");
        } catch {
          throw new KaupangError("ERR_CATALOG_INVALID", `catalog ${label} has no file ${path}`, {
            hint: "set the source's path to the file you pushed",
          });
        }
        try {
          return JSON.parse(text);
        } catch {
          throw new KaupangError("ERR_CATALOG_INVALID", `catalog ${label}: ${path} is not valid JSON`);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}
