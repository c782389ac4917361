/**
 * `kaupang bundle <solution>`: plan the solution, pin every image, and write a
 * bundle directory (see manifest.ts); optionally save the images into it and
 * push it as one OCI artifact.
 */

import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { type EventSink, silent } from "../base/events.js";
import { own } from "../base/merge.js";
import { orasPlainHttp } from "../config/catalog/oci-source.js";
import { pinImages } from "../deploy/pin.js";
import { planUp, type TargetOptions } from "../deploy/plan-up.js";
import { execOk } from "../exec/exec.js";
import { localImageId, localImageIds } from "../images/local.js";
import { sha256 } from "../ledger/ledger.js";
import { dockerGlobalArgs, upCommands, waveArtifactPath } from "../plan/commands.js";
import { createPlan } from "../plan/create-plan.js";
import { fileDigest } from "./digest.js";
import { type BundleManifest, type BundleUnit, bundleManifestName } from "./manifest.js";
import { readPrivateKey, signatureName, signManifest } from "./sign.js";

export interface BundleOptions extends TargetOptions {
  solution: string;
  withImages?: boolean | undefined;
  /** Output directory (default ./<solution>.bundle). */
  out?: string | undefined;
  /** oci://registry/repo:tag to push the bundle to. */
  push?: string | undefined;
  resolve?: boolean | undefined;
  events?: EventSink | undefined;
  kaupangVersion?: string | undefined;
  /** Ed25519 private key (PEM) to sign the manifest digest with; bundle.sig is written next to it. */
  sign?: string | undefined;
}

export interface BundleResult {
  directory?: string;
  pushed?: string;
  manifest: BundleManifest;
  /** sha256 of bundle.json, to compare out of band (`up --bundle --expect-digest`). */
  manifestDigest: string;
  /** Set when signed: the id of the key (sha256 of its public key). */
  signature?: { keyId: string };
}

export function ociRef(value: string): string {
  if (!value.startsWith("oci://")) {
    throw new KaupangError("ERR_BAD_OCI_REF", `${JSON.stringify(value)} is not an oci:// reference`, {
      hint: "write it as oci://registry/repository:tag",
    });
  }
  return value.slice("oci://".length);
}

export async function createBundle(options: BundleOptions): Promise<BundleResult> {
  const events = options.events ?? silent;
  const cwd = options.cwd ?? process.cwd();
  const pushRef = options.push ? ociRef(options.push) : undefined;
  // Read the key first: a bad key fails before anything is pinned, pulled or saved.
  const signingKey = options.sign ? readPrivateKey(resolve(cwd, options.sign), options.sign) : undefined;
  const planned = await planUp({
    cwd,
    solution: options.solution,
    target: options.target,
    backend: options.backend,
    events,
  });
  const { model } = planned;
  // A bundle carries no command lines and no build contexts: drop hooks and
  // build sections before rendering what it will replay.
  for (const env of Object.values(model.environments)) {
    const hooks = Object.values(env.hooks).flat();
    if (hooks.length > 0)
      events({
        type: "warning",
        scope: env.name,
        message: `${hooks.length} hook(s) are not carried into the bundle`,
      });
    env.hooks = { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] };
    for (const service of Object.values(env.services)) delete service.build;
  }
  const pins = await pinImages(model, planned.plan, { cwd, resolve: options.resolve, events });
  const target = planned.plan.targetSettings;
  // Registry digests as resolved, kept for the manifest even when the artifact pins image IDs.
  const registryDigests = new Map<string, string>();
  for (const [envName, services] of Object.entries(pins)) {
    for (const [service, ref] of Object.entries(services)) {
      if (!ref.startsWith("sha256:"))
        registryDigests.set(`${envName}.${service}`, ref.slice(ref.indexOf("@") + 1));
    }
  }
  const imageIds = new Map<string, string>();
  const travel = options.withImages && planned.plan.backend !== "kubernetes";
  if (options.withImages) {
    // The site has no registry: deploy by image ID, which survives docker save/load.
    const refOf = (envName: string, service: string) =>
      own(own(pins, envName), service) ?? model.environments[envName]!.services[service]!.image;
    const known = await localImageIds(
      target,
      Object.entries(pins).flatMap(([envName]) =>
        Object.keys(model.environments[envName]!.services)
          .map((service) => refOf(envName, service))
          .filter((ref) => !ref.startsWith("sha256:")),
      ),
    );
    for (const [envName, services] of Object.entries(pins)) {
      for (const service of Object.keys(model.environments[envName]!.services)) {
        const ref = own(services, service) ?? model.environments[envName]!.services[service]!.image;
        let id = ref.startsWith("sha256:") ? ref : known.get(ref);
        if (!id) {
          events({ type: "stage", message: `pulling ${ref} to carry it in the bundle` });
          await execOk(["docker", ...dockerGlobalArgs(target), "pull", ref], `pull ${ref}`, { events });
          id = await localImageId(target, ref);
        }
        if (!id)
          throw new KaupangError(
            "ERR_IMAGE_MISSING",
            `${envName}.${service}: image ${ref} is not on this engine after pulling it`,
          );
        imageIds.set(`${envName}.${service}`, id);
        if (travel) {
          pins[envName] ??= {};
          pins[envName][service] = id;
        }
      }
    }
  }
  const plan = createPlan(model, { pull: "missing", pinned: pins });
  plan.solution = planned.plan.solution!;

  const out = options.out
    ? resolve(cwd, options.out)
    : pushRef
      ? await mkdtemp(join(tmpdir(), "kaupang-bundle-"))
      : resolve(cwd, `${options.solution}.bundle`);
  const dir = pushRef && !options.out ? join(out, `${options.solution}.bundle`) : out;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "artifacts"), { recursive: true });
  const files: Record<string, string> = {};
  const sizes: Record<string, number> = {};
  const put = async (path: string, content: string) => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
    files[path] = sha256(content);
    sizes[path] = Buffer.byteLength(content);
  };

  const units: BundleUnit[] = [];
  // Where a bundle deploys is the site's choice: a unit names its target and backend, never a context or kubeconfig.
  const { name, backend, namespace, swarm } = plan.targetSettings;
  const unitTarget = { name, backend, namespace, ...(swarm ? { swarm } : {}) };
  for (const env of plan.environments) {
    const bundlePath = `artifacts/${basename(env.artifact.path)}`;
    await put(bundlePath, env.artifact.content);
    // Wave files for readers and other tools; a site derives its own from the verified artifact.
    const waveArtifacts = env.waveArtifacts?.map((wave, i) => ({
      path: waveArtifactPath(bundlePath, i + 1),
      content: wave.content,
    }));
    for (const wave of waveArtifacts ?? []) await put(wave.path, wave.content);
    // Commands shown with bundle-relative paths, for readers; a site builds its own.
    const shown = {
      ...env,
      artifact: { path: bundlePath, content: "" },
      ...(waveArtifacts ? { waveArtifacts: waveArtifacts.map((w) => ({ path: w.path, content: "" })) } : {}),
    };
    units.push({
      project: plan.project,
      target: unitTarget,
      backend: plan.backend,
      pull: plan.pull,
      environment: {
        environment: env.environment,
        file: env.file,
        dependsOn: env.dependsOn,
        waves: env.waves,
        runOnce: env.runOnce,
        replicas: env.replicas,
        images: env.images,
        secrets: env.secrets,
        artifact: shown.artifact as { path: string; content: "" },
        ...(env.objects ? { objects: env.objects } : {}),
        hooks: { beforeUp: [], afterUp: [], beforeDown: [], afterDown: [] },
        commands: upCommands(
          { project: plan.project, target: unitTarget, pull: plan.pull, root: "." },
          shown,
        ),
      },
    });
  }
  await put("plan.json", `${JSON.stringify({ units }, null, 2)}\n`);

  if (options.withImages) {
    const ids = [...new Set(imageIds.values())];
    events({
      type: "stage",
      message: `saving ${ids.length} image${ids.length === 1 ? "" : "s"} into images.tar (shared layers once)`,
    });
    const tarball = join(dir, "images.tar");
    await execOk(["docker", ...dockerGlobalArgs(target), "save", "-o", tarball, ...ids], "docker save", {
      events,
    });
    files["images.tar"] = await fileDigest(tarball);
    sizes["images.tar"] = (await stat(tarball)).size;
  }

  const manifest: BundleManifest = {
    kind: "kaupang.bundle",
    version: 1,
    solution: plan.solution,
    project: plan.project,
    target: plan.target,
    backend: plan.backend,
    createdAt: new Date().toISOString(),
    kaupang: options.kaupangVersion ?? "0.0.0",
    environmentOrder: plan.environmentOrder,
    images: plan.environments.flatMap((env) =>
      env.images.map((image) => {
        const key = `${env.environment}.${image.service}`;
        const digest = registryDigests.get(key) ?? (image.local ? undefined : image.digest);
        const imageId = imageIds.get(key) ?? (image.local ? image.digest : undefined);
        return {
          environment: env.environment,
          service: image.service,
          ref: image.ref,
          ...(digest ? { digest } : {}),
          ...(imageId ? { imageId } : {}),
        };
      }),
    ),
    withImages: options.withImages === true,
    ...(model.target.state === "target" ? { state: "target" as const } : {}),
    files: Object.fromEntries(Object.entries(files).sort(([a], [b]) => a.localeCompare(b))),
    sizes: Object.fromEntries(Object.entries(sizes).sort(([a], [b]) => a.localeCompare(b))),
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFile(join(dir, bundleManifestName), manifestText);
  const result: BundleResult = { manifest, manifestDigest: sha256(manifestText) };
  if (signingKey) {
    const signature = signManifest(result.manifestDigest, signingKey);
    await writeFile(join(dir, signatureName), `${JSON.stringify(signature, null, 2)}\n`);
    result.signature = { keyId: signature.keyId };
  }

  if (pushRef) {
    events({ type: "stage", message: `pushing the bundle to oci://${pushRef}` });
    await execOk(
      [
        "oras",
        "push",
        ...orasPlainHttp(pushRef),
        "--artifact-type",
        "application/vnd.kaupang.bundle.v1",
        pushRef,
        basename(dir),
      ],
      `push bundle to oci://${pushRef}`,
      { cwd: dirname(dir), events },
    );
    result.pushed = `oci://${pushRef}`;
    if (!options.out) await rm(out, { recursive: true, force: true });
  }
  if (options.out || !pushRef) result.directory = dir;
  return result;
}
