/**
 * A bundle: a self-contained, relocatable directory a pipeline produces and an
 * air-gapped site deploys.
 *
 *   bundle.json            this manifest: what, for which target, and the sha256 of every file
 *   plan.json              the pinned deployment units, one per environment, in start order
 *   artifacts/<env>.<ext>  every rendered artifact (and its wave files)
 *   images.tar             with --with-images: one `docker save` of all images (shared layers once)
 *
 * It holds data only: replaying it runs kaupang's own apply for the recorded
 * backend, never a command line or binary named inside it (hooks are not
 * carried; commands in plan.json are descriptions).
 */
import * as z from "zod";

export const bundleManifestName = "bundle.json";

export const BundleManifestSchema = z.object({
  kind: z.literal("kaupang.bundle"),
  version: z.literal(1),
  solution: z.object({ name: z.string(), version: z.string() }),
  project: z.string(),
  target: z.string(),
  backend: z.enum(["compose", "swarm", "kubernetes"]),
  createdAt: z.string(),
  kaupang: z.string(),
  environmentOrder: z.array(z.string()),
  images: z.array(
    z.object({
      environment: z.string(),
      service: z.string(),
      ref: z.string(),
      digest: z.string().optional(),
      /** Local image ID the artifact pins when images travel in the bundle. */
      imageId: z.string().optional(),
    }),
  ),
  withImages: z.boolean(),
  /**
   * "target" when the target keeps its deploy state on itself (state:
   * "target"): a site deploying the bundle without a config keeps it there too.
   */
  state: z.enum(["local", "target"]).optional(),
  /** Bundle-relative path → sha256 of its content. */
  files: z.record(z.string(), z.string()),
});

export type BundleManifest = z.infer<typeof BundleManifestSchema>;
