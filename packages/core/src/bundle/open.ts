/**
 * Open a bundle (a directory, or oci://ref pulled with oras) as untrusted
 * data and turn it into deployment units for the deploying site:
 *
 *   1. bundle.json: a regular file within its bound; its sha256 is the manifest digest
 *   2. --expect-digest, then the signature (bundle.sig) against every key the site requires
 *   3. the manifest through its strict schema; project, target and backend against the site's
 *   4. every listed file: a plain relative path, a regular file, within its bound, hashed (streamed)
 *   5. plan.json through its strict schema (no hooks, no contexts), each unit against the manifest
 *   6. each artifact against what kaupang renders; images.tar's index (no tags, exactly the listed images)
 *
 * The units it returns deploy to the site's target settings and carry no
 * hooks; their commands are built here by kaupang's own builders.
 */
import { existsSync, readdirSync } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import type * as z from "zod";
import { KaupangError, showValue } from "../base/errors.js";
import { orasPull } from "../config/catalog/oci-source.js";
import type { Target } from "../config/model.js";
import { validate } from "../config/validate.js";
import type { BundleProvenance } from "../ledger/record.js";
import { upCommands } from "../plan/commands.js";
import type { EnvironmentPlan } from "../plan/types.js";
import { type DeploymentUnit, fromDocuments } from "../plan/unit.js";
import { artifactExtension } from "../render/render.js";
import { parseArtifact } from "../render/yaml.js";
import { checkArtifact } from "./artifact-check.js";
import { ociRef } from "./create.js";
import {
  bundleError,
  bundleLimits,
  hashChecked,
  imagesLimit,
  openInside,
  readChecked,
  unsafePath,
  utf8,
} from "./files.js";
import { scanImageArchive } from "./image-archive.js";
import {
  type BundleManifest,
  BundleManifestSchema,
  BundlePlanSchema,
  type BundleUnit,
  bundleImagesName,
  bundleManifestName,
  bundlePlanName,
} from "./manifest.js";
import {
  type BundleSignature,
  BundleSignatureSchema,
  keyIdOf,
  readPublicKey,
  signatureName,
  signatureProblem,
} from "./sign.js";

/** Where and how the deploying site deploys: decided by the site, never by the bundle. */
export interface BundleSite {
  root: string;
  cacheDir: string;
  /** The target's settings (backend, contexts, kubeconfig, namespace) and pull policy. */
  settings: Target;
  /** With a config: its project and file, which the bundle's project must match. */
  project?: { name: string; file: string };
  /** Why the target was chosen, for errors: "--target", "the config's default", … */
  targetSource: string;
  backendSource: string;
}

/** A public key the bundle must be signed with, and who asks for it. */
export interface RequiredKey {
  path: string;
  display: string;
  /** "--verify", "target prod's requireSignature" */
  reason: string;
}

interface OpenBundleOptions {
  site: BundleSite;
  keys?: readonly RequiredKey[];
  /** sha256:… the manifest must have (`--expect-digest`). */
  expectDigest?: string | undefined;
}

export interface OpenBundle {
  /** As given: a directory or oci://ref. */
  location: string;
  directory: string;
  manifest: BundleManifest;
  /** sha256 of bundle.json. */
  manifestDigest: string;
  /** The signature found, and whether a required key verified it. */
  signature?: { keyId: string; verified: boolean };
  units: DeploymentUnit[];
  /** images.tar (absolute) when the bundle carries images. */
  imagesArchive?: string;
  /** Label recorded in the ledger: "bundle hedeby@2.3.1". */
  source: string;
  provenance: BundleProvenance;
  /** Removes what opening made (an oci:// pull). */
  close(): Promise<void>;
}

/** Resolve a bundle argument to a local directory (pulling oci:// refs into a temporary one). */
async function bundleDirectory(
  location: string,
  cwd: string,
): Promise<{ directory: string; temporary?: string }> {
  if (!location.startsWith("oci://")) return { directory: resolve(cwd, location) };
  const pulled = await orasPull(ociRef(location), "bundle");
  if (existsSync(join(pulled, bundleManifestName))) return { directory: pulled, temporary: pulled };
  // oras unpacks the pushed directory under its own name.
  const inside = readdirSync(pulled).find((entry) => existsSync(join(pulled, entry, bundleManifestName)));
  if (!inside) {
    await rm(pulled, { recursive: true, force: true });
    throw new KaupangError(
      "ERR_BUNDLE_INVALID",
      `${location}: holds no kaupang bundle (no ${bundleManifestName})`,
    );
  }
  return { directory: join(pulled, inside), temporary: pulled };
}

/** plan.json fields a bundle must not have, named with a message of their own (the schema would only say "unknown"). */
function refuseForeignFields(raw: unknown, where: string): void {
  const units = (raw as { units?: unknown })?.units;
  if (!Array.isArray(units)) return;
  units.forEach((unit, i) => {
    const target = (unit as { target?: Record<string, unknown> })?.target;
    for (const key of ["dockerContext", "dockerHost", "kubeContext", "kubeconfig"]) {
      if (target && typeof target === "object" && key in target)
        throw bundleError(
          "ERR_BUNDLE_INVALID",
          where,
          `units[${i}].target.${key}: ${showValue(target[key])}: a bundle does not choose the ${key}; the deploying site does (its config's target, or the environment: DOCKER_CONTEXT, DOCKER_HOST, KUBECONFIG); refused`,
        );
    }
    const hooks = (unit as { environment?: { hooks?: Record<string, unknown> } })?.environment?.hooks;
    for (const [phase, list] of Object.entries(hooks && typeof hooks === "object" ? hooks : {})) {
      if (Array.isArray(list) ? list.length > 0 : list !== undefined)
        throw bundleError(
          "ERR_BUNDLE_INVALID",
          where,
          `units[${i}].environment.hooks.${phase}: a bundle carries no hooks (it would run ${showValue((list as { run?: unknown }[])?.[0]?.run ?? list)}); refused, nothing ran`,
        );
    }
  });
}

function parseJson(bytes: Buffer, where: string): unknown {
  try {
    return JSON.parse(utf8(bytes, where));
  } catch (error) {
    if ((error as KaupangError).code) throw error;
    throw bundleError("ERR_BUNDLE_INVALID", where, "is not valid JSON; refused");
  }
}

function validated<T>(schema: z.ZodType<T>, raw: unknown, where: string): T {
  try {
    return validate(schema, raw, where) as T;
  } catch (error) {
    throw new KaupangError("ERR_BUNDLE_INVALID", `${(error as Error).message}; refused`, {
      hint: "the bundle was refused before anything ran; nothing was deployed",
    });
  }
}

const layout = (path: string) =>
  path === bundlePlanName || path === bundleImagesName || /^artifacts\/[a-z0-9][a-z0-9.-]*\.yaml$/.test(path);

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

export async function openBundle(
  location: string,
  options: OpenBundleOptions & { cwd: string },
): Promise<OpenBundle> {
  const { directory, temporary } = await bundleDirectory(location, options.cwd);
  const close = async () => {
    if (temporary) await rm(temporary, { recursive: true, force: true });
  };
  try {
    return await readBundle(location, directory, options, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function readBundle(
  location: string,
  directory: string,
  options: OpenBundleOptions,
  close: () => Promise<void>,
): Promise<OpenBundle> {
  const { site } = options;
  const at = (file: string) => `${location.replace(/\/+$/, "")}/${file}`;
  const manifestWhere = at(bundleManifestName);
  if (!(await exists(join(directory, bundleManifestName))))
    throw new KaupangError(
      "ERR_BUNDLE_INVALID",
      `${location}: not a kaupang bundle (no ${bundleManifestName})`,
    );

  // 1. The manifest's bytes and digest.
  const manifestFile = await readChecked(
    await openInside(directory, bundleManifestName, bundleLimits.manifest, manifestWhere),
  );
  const manifestDigest = manifestFile.digest;

  // 2. The digest the operator expects, and the signatures the site requires.
  if (options.expectDigest !== undefined && options.expectDigest !== manifestDigest) {
    throw bundleError(
      "ERR_BUNDLE_DIGEST",
      manifestWhere,
      `manifest digest ${manifestDigest} is not the expected ${options.expectDigest} (--expect-digest); refused`,
    );
  }
  const signatureWhere = at(signatureName);
  let signature: BundleSignature | undefined;
  if (await exists(join(directory, signatureName))) {
    const bytes = (
      await readChecked(await openInside(directory, signatureName, bundleLimits.signature, signatureWhere))
    ).bytes;
    signature = validated<BundleSignature>(
      BundleSignatureSchema,
      parseJson(bytes, signatureWhere),
      signatureWhere,
    );
  }
  let verifiedBy: string | undefined;
  for (const key of options.keys ?? []) {
    const publicKey = readPublicKey(key.path, key.display);
    if (!signature) {
      throw bundleError(
        "ERR_BUNDLE_UNSIGNED",
        signatureWhere,
        `missing: the bundle is unsigned, and ${key.reason} requires a signature by ${key.display} (${keyIdOf(publicKey)}); refused`,
      );
    }
    const problem = signatureProblem(signature, manifestDigest, publicKey);
    if (problem) {
      throw bundleError(
        problem.field === "keyId" ? "ERR_BUNDLE_SIGNER" : "ERR_BUNDLE_SIGNATURE",
        signatureWhere,
        `${problem.field}: ${problem.message} (${key.reason}: ${key.display}); refused`,
      );
    }
    verifiedBy = signature.keyId;
  }

  // 3. The manifest, and the site's target against it.
  const manifest = validated<BundleManifest>(
    BundleManifestSchema,
    parseJson(manifestFile.bytes, manifestWhere),
    manifestWhere,
  );
  const label = `${manifest.solution.name}@${manifest.solution.version}`;
  const siteSettings = { ...site.settings, namespace: site.settings.namespace || manifest.project };
  if (site.settings.name !== manifest.target) {
    throw bundleError(
      "ERR_BUNDLE_TARGET",
      manifestWhere,
      `target: bundle ${label} was made for target "${manifest.target}", this site deploys to target "${site.settings.name}" (${site.targetSource}); refused`,
      `make one for ${site.settings.name}: kaupang bundle ${manifest.solution.name} --target ${site.settings.name}`,
    );
  }
  if (site.project && site.project.name !== manifest.project) {
    throw bundleError(
      "ERR_BUNDLE_PROJECT",
      manifestWhere,
      `project: bundle ${label} deploys project "${manifest.project}", this site's config (${site.project.file}) is project "${site.project.name}"; refused`,
    );
  }
  if (site.settings.backend !== manifest.backend) {
    throw bundleError(
      "ERR_BUNDLE_BACKEND",
      manifestWhere,
      `backend: bundle ${label} was rendered for ${manifest.backend}, this site's target ${site.settings.name} deploys with ${site.settings.backend} (${site.backendSource}); refused`,
    );
  }

  // 4. Every listed file, hashed; the text files are kept.
  const paths = Object.keys(manifest.files);
  if (paths.length > bundleLimits.files)
    throw bundleError(
      "ERR_BUNDLE_SIZE",
      manifestWhere,
      `files: ${paths.length} entries, over the limit of ${bundleLimits.files}; refused`,
    );
  const texts = new Map<string, string>();
  for (const path of paths) {
    const field = `${manifestWhere}: files[${JSON.stringify(path)}]`;
    const bad = unsafePath(path);
    if (bad) throw bundleError("ERR_BUNDLE_PATH", field, `path ${bad}; refused`);
    if (!layout(path))
      throw bundleError(
        "ERR_BUNDLE_PATH",
        field,
        `is not a file a bundle holds (plan.json, images.tar, artifacts/<name>.yaml); refused`,
      );
    const images = path === bundleImagesName;
    const file = await openInside(directory, path, images ? imagesLimit() : bundleLimits.text, field);
    const declared = manifest.sizes?.[path];
    if (declared !== undefined && declared !== file.size) {
      await file.handle.close();
      throw bundleError(
        "ERR_BUNDLE_TAMPERED",
        `${manifestWhere}: sizes[${JSON.stringify(path)}]`,
        `${path} is ${file.size} bytes, the manifest says ${declared} (modified or damaged); refused, nothing deployed`,
      );
    }
    let digest: string;
    if (images) digest = await hashChecked(file);
    else {
      const read = await readChecked(file);
      digest = read.digest;
      texts.set(path, utf8(read.bytes, at(path)));
    }
    if (digest !== manifest.files[path]) {
      throw bundleError(
        "ERR_BUNDLE_TAMPERED",
        field,
        `${path} does not match the bundle manifest (modified or damaged): its sha256 is ${digest}; refused, nothing deployed`,
      );
    }
  }

  // 5. plan.json, unit by unit against the manifest.
  const planWhere = at(bundlePlanName);
  const planText = texts.get(bundlePlanName);
  if (planText === undefined)
    throw bundleError("ERR_BUNDLE_INVALID", `${manifestWhere}: files`, `lists no ${bundlePlanName}; refused`);
  let planRaw: unknown;
  try {
    planRaw = JSON.parse(planText);
  } catch {
    throw bundleError("ERR_BUNDLE_INVALID", planWhere, "is not valid JSON; refused");
  }
  refuseForeignFields(planRaw, planWhere);
  const { units } = validated<{ units: BundleUnit[] }>(BundlePlanSchema, planRaw, planWhere);
  const order = units.map((u) => u.environment.environment);
  if (order.join(",") !== manifest.environmentOrder.join(",")) {
    throw bundleError(
      "ERR_BUNDLE_INVALID",
      planWhere,
      `units: environments ${order.join(", ")} are not the manifest's environmentOrder ${manifest.environmentOrder.join(", ")}; refused`,
    );
  }
  const artifactDir = relative(site.root, join(site.cacheDir, site.settings.name)) || ".";
  const out: DeploymentUnit[] = [];
  units.forEach((unit, i) => {
    const env = unit.environment;
    const name = env.environment;
    const mismatch = (field: string, value: string, manifestField: string, expected: string) =>
      bundleError(
        "ERR_BUNDLE_INVALID",
        planWhere,
        `units[${i}].${field}: "${value}" is not the manifest's ${manifestField} "${expected}" (bundle.json); refused`,
      );
    if (unit.project !== manifest.project)
      throw mismatch("project", unit.project, "project", manifest.project);
    if (unit.target.name !== manifest.target)
      throw mismatch("target.name", unit.target.name, "target", manifest.target);
    if (unit.backend !== manifest.backend)
      throw mismatch("backend", unit.backend, "backend", manifest.backend);
    if (unit.target.backend !== manifest.backend)
      throw mismatch("target.backend", unit.target.backend, "backend", manifest.backend);
    const expectedPath = `artifacts/${name}.${artifactExtension[manifest.backend]}`;
    if (env.artifact.path !== expectedPath)
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        planWhere,
        `units[${i}].environment.artifact.path: ${showValue(env.artifact.path)} is not ${expectedPath}; refused`,
      );
    const content = texts.get(expectedPath);
    if (content === undefined)
      throw bundleError(
        "ERR_BUNDLE_INVALID",
        planWhere,
        `units[${i}].environment.artifact.path: ${expectedPath} is not listed in bundle.json files; refused`,
      );
    const services = new Set(env.waves.flat());
    for (const [field, list] of [
      ["runOnce", env.runOnce],
      ["images", env.images.map((image) => image.service)],
      ["replicas", Object.keys(env.replicas)],
    ] as const) {
      const stray = list.find((service) => !services.has(service));
      if (stray !== undefined)
        throw bundleError(
          "ERR_BUNDLE_INVALID",
          planWhere,
          `units[${i}].environment.${field}: service "${stray}" is in no wave; refused`,
        );
    }
    const pins = new Set(
      manifest.images
        .filter((image) => image.environment === name)
        .flatMap((image) => [image.imageId, image.digest].filter((v): v is string => v !== undefined)),
    );
    // Checked, then in the site's namespace (Kubernetes): a bundle never picks where it deploys.
    const deployed = checkArtifact(content, {
      where: at(expectedPath),
      backend: manifest.backend,
      project: manifest.project,
      environment: name,
      namespace: siteSettings.namespace,
      pins,
    });
    // Where the state lives is no part of a unit (plan/create-plan.ts drops it too).
    const { pull: _pull, state: _state, ...settings }: Target = siteSettings;
    const artifact = {
      path: join(artifactDir, `${name}.${artifactExtension[manifest.backend]}`),
      content: deployed,
    };
    // Wave artifacts, Kubernetes objects and service views come from the verified artifact, never from plan.json.
    const plan: EnvironmentPlan = {
      environment: name,
      file: env.file,
      dependsOn: env.dependsOn,
      waves: env.waves,
      runOnce: env.runOnce,
      replicas: env.replicas,
      images: env.images,
      secrets: env.secrets,
      artifact,
      ...fromDocuments(manifest.backend, parseArtifact(deployed), { artifact, waves: env.waves }),
      hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] },
      commands: [],
    };
    const ctx = { project: manifest.project, target: settings, pull: site.settings.pull, root: site.root };
    plan.commands = upCommands(ctx, plan);
    out.push({
      project: manifest.project,
      target: settings,
      backend: manifest.backend,
      pull: site.settings.pull,
      environment: plan,
    });
  });

  // 6. The image archive's index: exactly the listed images, and no tags.
  let imagesArchive: string | undefined;
  if (manifest.files[bundleImagesName] !== undefined) {
    const where = at(bundleImagesName);
    const file = await openInside(directory, bundleImagesName, imagesLimit(), where);
    let index: Awaited<ReturnType<typeof scanImageArchive>>;
    try {
      index = await scanImageArchive(file.handle, file.size, where);
    } finally {
      await file.handle.close();
    }
    const tagged = index.images.find((image) => image.tags.length > 0);
    const tag = tagged?.tags[0] ?? index.otherTags[0];
    if (tag !== undefined) {
      throw bundleError(
        "ERR_BUNDLE_IMAGES",
        where,
        `${tagged ? `manifest.json [${index.images.indexOf(tagged)}].RepoTags` : "tags"}: ${JSON.stringify(tag)}: a bundle's images carry no tags (kaupang saves them by ID); loading would set or move the local tag ${tag}; refused, nothing loaded`,
      );
    }
    const held = new Set(index.images.map((image) => image.id));
    manifest.images.forEach((image, i) => {
      if (image.imageId && !held.has(image.imageId))
        throw bundleError(
          "ERR_BUNDLE_IMAGES",
          `${manifestWhere}: images[${i}].imageId`,
          `${image.imageId} (${image.environment}.${image.service}) is not in ${bundleImagesName}; refused, nothing loaded`,
        );
    });
    const listed = new Set(manifest.images.flatMap((image) => (image.imageId ? [image.imageId] : [])));
    const extra = index.images.find((image) => !listed.has(image.id));
    if (extra)
      throw bundleError(
        "ERR_BUNDLE_IMAGES",
        where,
        `holds image ${extra.id}, which bundle.json does not list; refused, nothing loaded`,
      );
    imagesArchive = join(directory, bundleImagesName);
  }

  const provenance: BundleProvenance = {
    solution: label,
    digest: manifestDigest,
    ...(verifiedBy ? { signer: verifiedBy } : {}),
  };
  return {
    location,
    directory,
    manifest,
    manifestDigest,
    ...(signature ? { signature: { keyId: signature.keyId, verified: verifiedBy !== undefined } } : {}),
    units: out,
    ...(imagesArchive ? { imagesArchive } : {}),
    source: `bundle ${label}`,
    provenance,
    close,
  };
}
