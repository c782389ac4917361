/**
 * Pinning: every image of a plan becomes an immutable reference — a registry
 * digest (resolved, or taken from a previous `up --output json` with
 * `--from`), or with `--no-resolve` a local build's image ID.
 */
import { readFileSync } from "node:fs";
import { resolve as resolvePath } from "node:path";
import * as z from "zod";
import { errorMessage, KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { isDigest, pinnedRef } from "../base/image-reference.js";
import type { Model } from "../config/model.js";
import { localImageId } from "../images/local.js";
import { resolveAll } from "../images/resolve.js";
import { isDigestRef } from "../plan/create-plan.js";
import type { Plan } from "../plan/types.js";

export interface PinOptions {
  /** Directory `from` is relative to; default process.cwd(). */
  cwd?: string | undefined;
  /** false = --no-resolve: deploy refs as written (local builds pinned by image ID). */
  resolve?: boolean | undefined;
  /** A previous `up --output json` to take digests from (promotion), instead of resolving. */
  from?: string | undefined;
  events?: EventSink | undefined;
}

/** environment → service → pinned ref (name@sha256:…) or local image ID (sha256:…). */
export type Pins = Record<string, Record<string, string>>;

const ResolvedFileSchema = z.object({
  deployments: z.array(
    z.object({
      environment: z.string(),
      images: z.array(z.object({ service: z.string(), ref: z.string(), digest: z.string().optional() })),
    }),
  ),
});

/** `env.service` → digest, from a previous `up --output json`. */
function readResolvedFile(path: string): Map<string, string> {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new KaupangError(
      "ERR_FROM_INVALID",
      `--from ${path}: cannot read it as JSON (${errorMessage(error)})`,
    );
  }
  const parsed = ResolvedFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new KaupangError(
      "ERR_FROM_INVALID",
      `--from ${path}: not the output of \`kaupang up --output json\` (${parsed.error.issues[0]?.message})`,
    );
  }
  const digests = new Map<string, string>();
  for (const d of parsed.data.deployments) {
    for (const image of d.images)
      if (image.digest) digests.set(`${d.environment}.${image.service}`, image.digest);
  }
  return digests;
}

/** Pin every service's image; returns environment → service → pinned ref (or image ID). */
export async function pinImages(model: Model, plan: Plan, options: PinOptions): Promise<Pins> {
  const pinned: Pins = {};
  const fromFile = options.from
    ? readResolvedFile(resolvePath(options.cwd ?? process.cwd(), options.from))
    : undefined;
  const toResolve: { env: string; service: string; ref: string }[] = [];
  for (const env of plan.environments) {
    pinned[env.environment] = {};
    for (const image of env.images) {
      if (isDigestRef(image.ref)) continue;
      const key = `${env.environment}.${image.service}`;
      if (fromFile) {
        const digest = fromFile.get(key);
        if (!digest) {
          throw new KaupangError(
            "ERR_FROM_INCOMPLETE",
            `--from ${options.from}: has no digest for ${key} (${image.ref})`,
            {
              hint: "produce it with `kaupang up <env> --output json` for the same environments",
            },
          );
        }
        // Promotion: the configured image, at the digest the earlier deploy ran.
        if (!isDigest(digest)) {
          throw new KaupangError(
            "ERR_FROM_INVALID",
            `--from ${options.from}: ${key} has ${JSON.stringify(digest)}, not a sha256 digest`,
          );
        }
        pinned[env.environment]![image.service] = pinnedRef(image.ref, digest);
      } else if (options.resolve === false) {
        const service = model.environments[env.environment]!.services[image.service]!;
        if (service.build && plan.backend === "compose") {
          const id = await localImageId(plan.targetSettings, image.ref);
          if (id) pinned[env.environment]![image.service] = id;
        }
      } else {
        toResolve.push({ env: env.environment, service: image.service, ref: image.ref });
      }
    }
  }
  if (toResolve.length > 0) {
    const digests = await resolveAll(
      toResolve.map((r) => ({ owner: `${r.env}.${r.service}`, ref: r.ref, environment: r.env })),
      { events: options.events },
    );
    for (const r of toResolve) pinned[r.env]![r.service] = pinnedRef(r.ref, digests.get(r.ref)!);
  }
  return pinned;
}
