/**
 * Resolve image references to digests, concurrently, through the registry's
 * HTTP API (registry.ts) with the user's docker login — the digest the tag
 * points at, the index digest for multi-platform images: what `docker pull`
 * would pin.
 */
import { KaupangError } from "../base/errors.js";
import type { EventSink } from "../base/events.js";
import { parseImageRef } from "../base/image-reference.js";
import { RegistryClient, RegistryError } from "./registry.js";

interface ResolveRequest {
  /** Who asked, for error messages: "market.web". */
  owner: string;
  ref: string;
  /** Environment of the service, reported in the error's details. */
  environment?: string;
}

/** Run `tasks` with at most `limit` at once, keeping result order. */
async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}

async function resolveDigest(
  ref: string,
  owner: string,
  environment?: string,
  client: RegistryClient = new RegistryClient(),
): Promise<string> {
  const parsed = parseImageRef(ref);
  if (parsed.digest) return parsed.digest;
  try {
    return await client.resolve(parsed);
  } catch (error) {
    if (!(error instanceof RegistryError)) throw error;
    const notFound = error.failure === "not-found";
    throw new KaupangError(
      "ERR_IMAGE_UNRESOLVED",
      `${owner}: image ${ref} ${notFound ? "does not exist in its registry" : "could not be resolved"} (${error.message})`,
      {
        hint: notFound
          ? "push it first (kaupang build --push), fix the tag, or deploy a local build with --no-resolve"
          : error.failure === "unreachable" || error.failure === "protocol"
            ? "check that the registry is up and reachable from here, or deploy with --no-resolve"
            : "log in to the registry (docker login), or deploy with --no-resolve",
        details: { ref, ...(environment ? { environment } : {}) },
      },
    );
  }
}

/**
 * Resolve every request (deduplicated by ref) concurrently; returns ref → digest.
 * The first failure is reported, naming the service and ref.
 */
export async function resolveAll(
  requests: readonly ResolveRequest[],
  options: { concurrency?: number; events?: EventSink } = {},
): Promise<Map<string, string>> {
  const byRef = new Map<string, ResolveRequest>();
  for (const r of requests) if (!byRef.has(r.ref)) byRef.set(r.ref, r);
  const refs = [...byRef.keys()];
  if (refs.length > 0)
    options.events?.({
      type: "stage",
      message: `resolving ${refs.length} image reference${refs.length > 1 ? "s" : ""} to digests`,
    });
  const client = new RegistryClient();
  const digests = await mapLimit(refs, options.concurrency ?? 16, (ref) => {
    const request = byRef.get(ref)!;
    return resolveDigest(ref, request.owner, request.environment, client);
  });
  return new Map(refs.map((ref, i) => [ref, digests[i]!]));
}
