/**
 * Open a bundle (a directory, or oci://ref pulled with oras), verify every
 * file against the manifest, and turn it back into deployment units for the
 * site's working directory.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, normalize, relative, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { orasPull } from "../config/catalog/oci-source.js";
import { upCommands, waveArtifactPath } from "../plan/commands.js";
import { completeUnit, type DeploymentUnit, type StoredUnit } from "../plan/unit.js";
import { artifactExtension } from "../render/render.js";
import { ociRef } from "./create.js";
import { fileDigest } from "./digest.js";
import { type BundleManifest, BundleManifestSchema, bundleManifestName } from "./manifest.js";

export interface OpenBundle {
  directory: string;
  manifest: BundleManifest;
  units: DeploymentUnit[];
  /** Label recorded in the ledger: "bundle hedeby@2.3.1". */
  source: string;
}

/** Resolve a bundle argument to a local directory (pulling oci:// refs). */
async function bundleDirectory(location: string, cwd: string): Promise<string> {
  if (!location.startsWith("oci://")) return resolve(cwd, location);
  const pulled = await orasPull(ociRef(location), "bundle");
  // oras unpacks the pushed directory under its own name.
  const inside = readdirSync(pulled).find((entry) => existsSync(join(pulled, entry, bundleManifestName)));
  if (existsSync(join(pulled, bundleManifestName))) return pulled;
  if (!inside)
    throw new KaupangError(
      "ERR_BUNDLE_INVALID",
      `${location} holds no kaupang bundle (no ${bundleManifestName})`,
    );
  return join(pulled, inside);
}

export async function openBundle(
  location: string,
  options: { cwd: string; cacheDir: string },
): Promise<OpenBundle> {
  const directory = await bundleDirectory(location, options.cwd);
  const manifestFile = join(directory, bundleManifestName);
  if (!existsSync(manifestFile)) {
    throw new KaupangError(
      "ERR_BUNDLE_INVALID",
      `${location}: not a kaupang bundle (no ${bundleManifestName})`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestFile, "utf8"));
  } catch {
    throw new KaupangError("ERR_BUNDLE_INVALID", `${location}: ${bundleManifestName} is not valid JSON`);
  }
  const parsed = BundleManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KaupangError(
      "ERR_BUNDLE_INVALID",
      `${location}: ${bundleManifestName}: ${issue.path.join(".")}: ${issue.message}`,
    );
  }
  const manifest = parsed.data;

  // Every file the manifest names must match its digest; nothing else is read.
  for (const [path, digest] of Object.entries(manifest.files)) {
    const file = join(directory, normalize(path));
    if (relative(directory, file).startsWith("..")) {
      throw new KaupangError(
        "ERR_BUNDLE_TAMPERED",
        `${location}: manifest names ${path}, outside the bundle; refused`,
      );
    }
    if (!existsSync(file))
      throw new KaupangError(
        "ERR_BUNDLE_TAMPERED",
        `${location}: ${path} is missing; refused, nothing deployed`,
      );
    if ((await fileDigest(file)) !== digest) {
      throw new KaupangError(
        "ERR_BUNDLE_TAMPERED",
        `${location}: ${path} does not match the bundle manifest (modified or damaged); refused, nothing deployed`,
      );
    }
  }
  if (!manifest.files["plan.json"])
    throw new KaupangError("ERR_BUNDLE_INVALID", `${location}: the manifest lists no plan.json`);
  const stored = (JSON.parse(await readFile(join(directory, "plan.json"), "utf8")) as { units: StoredUnit[] })
    .units;
  const site = relative(options.cwd, join(options.cacheDir, manifest.target)) || ".";
  const read = (bundled: string) => {
    if (!manifest.files[bundled])
      throw new KaupangError("ERR_BUNDLE_INVALID", `${location}: ${bundled} is not listed in the manifest`);
    return readFileSync(join(directory, bundled), "utf8");
  };
  const units = stored.map((unit): DeploymentUnit => {
    const env = unit.environment;
    env.artifact = {
      path: join(site, `${env.environment}.${artifactExtension[unit.backend]}`),
      content: read(env.artifact.path),
    };
    if (env.waveArtifacts) {
      env.waveArtifacts = env.waveArtifacts.map((wave, i) => ({
        path: waveArtifactPath(env.artifact.path, i + 1),
        content: read(wave.path),
      }));
    }
    env.commands = upCommands(
      { project: unit.project, target: unit.target, pull: unit.pull, root: options.cwd },
      env,
    );
    return completeUnit(unit);
  });
  return {
    directory,
    manifest,
    units,
    source: `bundle ${manifest.solution.name}@${manifest.solution.version}`,
  };
}
