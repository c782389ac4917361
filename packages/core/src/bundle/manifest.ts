/**
 * A bundle: a self-contained, relocatable directory a pipeline produces and an
 * air-gapped site deploys.
 *
 *   bundle.json            this manifest: what, for which project and target, and the sha256 (and size) of every file
 *   bundle.sig             optional: an Ed25519 signature of bundle.json's sha256 (sign.ts)
 *   plan.json              the pinned deployment units, one per environment, in start order
 *   artifacts/<env>.<ext>  every rendered artifact (and its wave files)
 *   images.tar             with --with-images: one `docker save` of all images by ID (shared layers once, no tags)
 *
 * It holds data only, and is read as untrusted data: both JSON files are
 * parsed through the strict schemas below, every name passes the rule of a
 * config name, and every path is a plain relative path inside the bundle.
 * Replaying a bundle runs kaupang's own command builders for the site's
 * target; never a hook, a command line or a setting of where to deploy
 * (context, kubeconfig, namespace) from the bundle — plan.json may not carry
 * those at all, and its `commands` are descriptions that are never read back.
 */
import * as z from "zod";
import { showValue } from "../base/errors.js";
import { backendNames, isValidName, nameRule, pullPolicies } from "../config/schema.js";

export const bundleManifestName = "bundle.json";
export const bundlePlanName = "plan.json";
export const bundleImagesName = "images.tar";

const digestPattern = /^sha256:[0-9a-f]{64}$/;
const Digest = z
  .string()
  .regex(digestPattern, { error: (i) => `${showValue(i.input)} is not sha256: and 64 hex digits` });

/** A name as a config would have it (project, environment, service, target, solution). */
const BundleName = z.string().refine(isValidName, {
  error: (i) => `${showValue(i.input)} must be ${nameRule}`,
});

const Version = z.string().regex(/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,127}$/, {
  error: (i) => `${showValue(i.input)} is not a version (letters, digits, ".", "+", "_", "-")`,
});

/** An image reference: registry/name[:tag][@digest] characters only, or a local image ID. */
const ImageRef = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,511}$/, {
  error: (i) => `${showValue(i.input)} is not an image reference`,
});

const Backend = z.enum(backendNames, {
  error: (i) => `${showValue(i.input)} is not one of ${backendNames.join(", ")}`,
});

export const BundleManifestSchema = z.strictObject({
  kind: z.literal("kaupang.bundle"),
  version: z.literal(1),
  solution: z.strictObject({ name: BundleName, version: Version }),
  project: BundleName,
  target: BundleName,
  backend: Backend,
  createdAt: z.string().max(64),
  kaupang: z.string().max(64),
  environmentOrder: z.array(BundleName).min(1).max(1000),
  images: z
    .array(
      z.strictObject({
        environment: BundleName,
        service: BundleName,
        ref: ImageRef,
        digest: Digest.optional(),
        /** Local image ID the artifact pins when images travel in the bundle. */
        imageId: Digest.optional(),
      }),
    )
    .max(10_000),
  withImages: z.boolean(),
  /**
   * "target" when the target keeps its deploy state on itself (state:
   * "target"): a site deploying the bundle without a config keeps it there too.
   */
  state: z.enum(["local", "target"]).optional(),
  /** Bundle-relative path → sha256 of its content. */
  files: z.record(z.string(), Digest),
  /** Bundle-relative path → size in bytes (bundles made before sizes were recorded have none). */
  sizes: z.record(z.string(), z.number().int().nonnegative()).optional(),
});

export type BundleManifest = z.infer<typeof BundleManifestSchema>;

/** A Kubernetes object as the plan records it (kind, name, service label, annotations). */
const KubeObject = z.strictObject({
  kind: z.string().max(63),
  name: z.string().max(253),
  service: z.string().max(253).optional(),
  annotations: z.record(z.string(), z.string()),
});

/** How a unit says where it was planned for: the target's name and backend only (the site decides the rest). */
const BundleTarget = z.strictObject({
  name: BundleName,
  backend: Backend,
  namespace: z.string().max(63).optional(),
  swarm: z
    .strictObject({ portMode: z.enum(["ingress", "host"]), endpointMode: z.enum(["vip", "dnsrr"]) })
    .optional(),
});

const NoHooks = z.array(z.unknown()).max(0);

export const BundleUnitSchema = z.strictObject({
  project: BundleName,
  target: BundleTarget,
  backend: Backend,
  pull: z.enum(pullPolicies),
  environment: z.strictObject({
    environment: BundleName,
    file: z.string().max(1024),
    dependsOn: z.array(BundleName),
    waves: z.array(z.array(BundleName).min(1)).min(1),
    runOnce: z.array(BundleName),
    replicas: z.record(BundleName, z.number().int().min(0).max(10_000)),
    images: z.array(
      z.strictObject({
        service: BundleName,
        ref: ImageRef,
        digest: z.string().regex(digestPattern).optional(),
        pinned: z.boolean(),
        local: z.boolean().optional(),
      }),
    ),
    secrets: z.array(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
        error: (i) => `${showValue(i.input)} is not an environment variable name`,
      }),
    ),
    /** The artifact's path in the bundle; its content is the file's. */
    artifact: z.strictObject({ path: z.string(), content: z.literal("") }),
    objects: z.array(KubeObject).optional(),
    hooks: z.strictObject({ beforeUp: NoHooks, afterUp: NoHooks, beforeDown: NoHooks, afterDown: NoHooks }),
    /** Descriptions for readers of the file; never read back (the builders make the commands that run). */
    commands: z.array(z.unknown()),
  }),
});

export const BundlePlanSchema = z.strictObject({ units: z.array(BundleUnitSchema).min(1).max(1000) });

export type BundleUnit = z.infer<typeof BundleUnitSchema>;
