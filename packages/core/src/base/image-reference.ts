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

// Docker's reference grammar (distribution/reference): name[:tag][@digest].
const domainComponent = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const domainPattern = new RegExp(
  `^(?:${domainComponent}(?:\\.${domainComponent})*|\\[[0-9a-fA-F:.]+\\])(?::[0-9]+)?$`,
);
const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const tagPattern = /^[\w][\w.-]{0,127}$/;
const digestShape = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$/;

/**
 * Why `ref` is not an image reference Docker accepts, or undefined when it is
 * one: lowercase repository path components, a tag of at most 128 word
 * characters, dots and dashes, a digest `algorithm:hex`, a name of at most 255
 * characters.
 */
export function imageReferenceProblem(ref: string): string | undefined {
  if (ref === "") return "it is empty";
  if (/\s/.test(ref)) return "it contains whitespace";
  let rest = ref;
  const at = rest.indexOf("@");
  if (at !== -1) {
    const digest = rest.slice(at + 1);
    if (!digestShape.test(digest))
      return `the digest ${JSON.stringify(digest)} is not algorithm:hex (sha256:…)`;
    rest = rest.slice(0, at);
  }
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    const tag = rest.slice(colon + 1);
    if (!tagPattern.test(tag)) {
      return `the tag ${JSON.stringify(tag)} must be letters, digits, "_", "." and "-" (at most 128, not starting with "." or "-")`;
    }
    rest = rest.slice(0, colon);
  }
  if (rest === "") return "it has no repository name";
  if (rest.length > 255) return "the name is longer than 255 characters";
  const parts = rest.split("/");
  const first = parts[0]!;
  const hasDomain =
    parts.length > 1 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase());
  if (hasDomain && !domainPattern.test(first))
    return `${JSON.stringify(first)} is not a registry host[:port]`;
  const path = hasDomain ? parts.slice(1) : parts;
  for (const component of path) {
    if (component === "") return "the repository path has an empty component";
    if (component !== component.toLowerCase() && pathComponent.test(component.toLowerCase())) {
      return `the repository name must be lowercase (${JSON.stringify(component)})`;
    }
    if (!pathComponent.test(component)) {
      return `${JSON.stringify(component)} is not a repository name component (lowercase letters and digits, joined by ".", "_", "__" or "-")`;
    }
  }
  return undefined;
}
