/**
 * Tag → digest over the OCI distribution API, in process: one HEAD of the
 * manifest per image, accepting index and manifest media types so the digest
 * is the one `docker pull` would pin (the index digest for multi-platform
 * images). Authentication follows the registry's challenge from `GET /v2/`,
 * learned once per registry and shared by every concurrent request: Basic
 * with the user's docker login, or a Bearer token per repository from the
 * token service (anonymous when there is no login, as for public images).
 * Loopback registries are spoken to over plain HTTP, as docker does.
 */
import { createHash } from "node:crypto";
import { type ImageRef, isDigest, isLoopbackRegistry } from "../base/image-reference.js";
import { type Credentials, credentialsFor } from "./credentials.js";
import { header, type Reply, type Send, senderFor } from "./http.js";

type RegistryFailure = "not-found" | "no-credentials" | "denied" | "unreachable" | "protocol";

export class RegistryError extends Error {
  constructor(
    readonly failure: RegistryFailure,
    message: string,
  ) {
    super(message);
  }
}

const manifestTypes = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

const noCredentials = (registry: string) =>
  new RegistryError("no-credentials", `${registry} requires credentials and no docker login has them`);

type Challenge =
  | { scheme: "none" }
  | { scheme: "basic" }
  | { scheme: "bearer"; realm: string; service?: string };

/** `Bearer realm="…",service="…"` → its parameters. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme === "basic") return { scheme: "basic" };
  if (scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[2]!.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]*))/g))
    params[key!.toLowerCase()] = quoted ?? bare ?? "";
  if (!params.realm) return undefined;
  return { scheme: "bearer", realm: params.realm, ...(params.service ? { service: params.service } : {}) };
}

function describeNetworkError(host: string, error: unknown, timeoutMs: number): string {
  const err = error as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { name?: string; code?: string };
  };
  if (err.name === "TimeoutError" || err.cause?.name === "TimeoutError")
    return `${host} did not answer within ${Math.round(timeoutMs / 1000)}s`;
  return `cannot connect to ${host}: ${err.code ?? err.cause?.code ?? err.message ?? String(error)}`;
}

interface RegistryState {
  challenge?: Promise<Challenge>;
  credentials?: Promise<Credentials | undefined>;
  tokens: Map<string, Promise<string>>;
}

/** A resolver for one run: it remembers challenges, logins and tokens per registry. */
export class RegistryClient {
  private readonly registries = new Map<string, RegistryState>();
  private readonly send: Send;

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    private readonly timeoutMs = 30_000,
  ) {
    this.send = senderFor(env);
  }

  private state(registry: string): RegistryState {
    let state = this.registries.get(registry);
    if (!state) {
      state = { tokens: new Map() };
      this.registries.set(registry, state);
    }
    return state;
  }

  private baseUrl(registry: string): string {
    const host = registry === "docker.io" ? "registry-1.docker.io" : registry;
    return `${isLoopbackRegistry(registry) ? "http" : "https"}://${host}`;
  }

  private async request(
    registry: string,
    url: string,
    init: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<Reply> {
    try {
      return await this.send(url, { ...init, timeoutMs: this.timeoutMs });
    } catch (error) {
      throw new RegistryError("unreachable", describeNetworkError(registry, error, this.timeoutMs));
    }
  }

  private credentials(registry: string): Promise<Credentials | undefined> {
    const state = this.state(registry);
    state.credentials ??= credentialsFor(registry, this.env);
    return state.credentials;
  }

  /** What `GET /v2/` asks for: nothing, Basic, or a Bearer token. */
  private challenge(registry: string): Promise<Challenge> {
    const state = this.state(registry);
    state.challenge ??= (async () => {
      const response = await this.request(registry, `${this.baseUrl(registry)}/v2/`);
      if (response.status !== 401) return { scheme: "none" } as const;
      const parsed = parseChallenge(header(response, "www-authenticate") ?? null);
      if (!parsed)
        throw new RegistryError(
          "protocol",
          `${registry} asks for authentication in a form kaupang does not speak (${header(response, "www-authenticate") ?? "no WWW-Authenticate header"})`,
        );
      return parsed;
    })();
    // A failed probe is not cached: the next request tries again.
    state.challenge.catch(() => {
      if (this.registries.get(registry) === state) state.challenge = undefined;
    });
    return state.challenge;
  }

  private async token(registry: string, repository: string, challenge: Challenge & { scheme: "bearer" }) {
    const state = this.state(registry);
    let token = state.tokens.get(repository);
    if (!token) {
      token = this.fetchToken(registry, repository, challenge);
      state.tokens.set(repository, token);
      token.catch(() => state.tokens.delete(repository));
    }
    return token;
  }

  private async fetchToken(
    registry: string,
    repository: string,
    challenge: Challenge & { scheme: "bearer" },
  ): Promise<string> {
    const credentials = await this.credentials(registry);
    const scope = `repository:${repository}:pull`;
    let response: Reply;
    if (credentials?.identityToken) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: credentials.identityToken,
        client_id: "kaupang",
        scope,
        ...(challenge.service ? { service: challenge.service } : {}),
      });
      response = await this.request(registry, challenge.realm, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    } else {
      const url = new URL(challenge.realm);
      if (challenge.service) url.searchParams.set("service", challenge.service);
      url.searchParams.set("scope", scope);
      response = await this.request(registry, url.toString(), {
        headers: credentials?.username !== undefined ? { authorization: basic(credentials) } : {},
      });
    }
    if (response.status === 401 || response.status === 403) {
      throw credentials
        ? new RegistryError("denied", `${registry} rejected the credentials of the docker login for it`)
        : noCredentials(registry);
    }
    if (response.status < 200 || response.status > 299)
      throw new RegistryError(
        "protocol",
        `the token service of ${registry} answered HTTP ${response.status}`,
      );
    let body: { token?: string; access_token?: string } = {};
    try {
      body = JSON.parse(response.body.toString("utf8"));
    } catch {
      // reported below as "no token"
    }
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError("protocol", `the token service of ${registry} returned no token`);
    return token;
  }

  private async authorization(registry: string, repository: string): Promise<string | undefined> {
    const challenge = await this.challenge(registry);
    if (challenge.scheme === "none") return undefined;
    if (challenge.scheme === "bearer") return `Bearer ${await this.token(registry, repository, challenge)}`;
    const credentials = await this.credentials(registry);
    if (credentials?.username === undefined) throw noCredentials(registry);
    return basic(credentials);
  }

  /** The digest `ref` (a tag) points at in its registry. */
  async resolve(ref: ImageRef): Promise<string> {
    if (ref.digest) return ref.digest;
    const { registry, repository } = ref;
    const url = `${this.baseUrl(registry)}/v2/${repository}/manifests/${ref.tag ?? "latest"}`;
    const authorization = await this.authorization(registry, repository);
    const headers: Record<string, string> = { accept: manifestTypes };
    if (authorization) headers.authorization = authorization;
    let response = await this.request(registry, url, { method: "HEAD", headers });
    let fetchedBody = false;
    if (response.status === 405) {
      response = await this.request(registry, url, { headers });
      fetchedBody = true;
    }
    if (response.status === 404) throw new RegistryError("not-found", "manifest unknown");
    if (response.status === 401 || response.status === 403) {
      const credentials = await this.credentials(registry);
      throw credentials
        ? new RegistryError("denied", `${registry} denied pull access to ${repository} for the docker login`)
        : noCredentials(registry);
    }
    if (response.status !== 200)
      throw new RegistryError("protocol", `${registry} answered HTTP ${response.status}`);
    const digest = header(response, "docker-content-digest");
    if (digest && isDigest(digest)) return digest;
    // No digest header: fetch the manifest and hash its exact bytes.
    const full = fetchedBody ? response : await this.request(registry, url, { headers });
    if (full.status !== 200) throw new RegistryError("protocol", `${registry} answered HTTP ${full.status}`);
    return `sha256:${createHash("sha256").update(full.body).digest("hex")}`;
  }
}

function basic(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username ?? ""}:${credentials.password ?? ""}`).toString("base64")}`;
}
