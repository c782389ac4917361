/** Image references: just enough parsing to pin, resolve and compare them. */

export interface ImageRef {
  /** Registry host as written (defaults to docker.io). */
  registry: string;
  /** Repository path inside the registry (library/ added for Docker Hub short names). */
  repository: string;
  tag?: string;
  digest?: string;
}

const digestPattern = /^sha256:[0-9a-f]{64}$/;

export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const first = rest.split("/")[0]!;
  const hasRegistry =
    rest.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost");
  const registry = hasRegistry ? first : "docker.io";
  let repository = hasRegistry ? rest.slice(first.length + 1) : rest;
  if (registry === "docker.io" && !repository.includes("/")) repository = `library/${repository}`;
  return { registry, repository, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The name part of a reference as written (no tag, no digest). */
export function nameOf(ref: string): string {
  const at = ref.indexOf("@");
  const rest = at === -1 ? ref : ref.slice(0, at);
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  return colon > lastSlash ? rest.slice(0, colon) : rest;
}

/** `name@sha256:…`: the form kaupang writes into artifacts. */
export function pinnedRef(ref: string, digest: string): string {
  return `${nameOf(ref)}@${digest}`;
}

export const isDigest = (value: string): boolean => digestPattern.test(value);

/** Registries docker itself talks to over plain HTTP by default: loopback. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
