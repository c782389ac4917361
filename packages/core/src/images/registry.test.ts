import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseImageRef } from "../base/image-reference.js";
import { credentialsFor } from "./credentials.js";
import { parseChallenge, RegistryClient, RegistryError } from "./registry.js";
import { resolveAll } from "./resolve.js";

const manifest = JSON.stringify({
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
});
const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
const indexDigest = `sha256:${"a".repeat(64)}`;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
const requests: string[] = [];

/** A registry on 127.0.0.1 (plain HTTP, as loopback registries are spoken to). */
async function registry(handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? "-"}`);
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function dockerConfig(config: object): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), "kaupang-dockercfg-"));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config));
  return {
    ...process.env,
    DOCKER_CONFIG: dir,
    HTTPS_PROXY: "",
    HTTP_PROXY: "",
    https_proxy: "",
    http_proxy: "",
  };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;

afterEach(async () => {
  requests.length = 0;
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("parseChallenge", () => {
  it("reads Basic and Bearer challenges", () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: "basic" });
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="registry.example",error="invalid_token"',
      ),
    ).toEqual({ scheme: "bearer", realm: "https://auth.example/token", service: "registry.example" });
    expect(parseChallenge("Negotiate abc")).toBeUndefined();
    expect(parseChallenge("Bearer service=x")).toBeUndefined();
    expect(parseChallenge(null)).toBeUndefined();
  });
});

describe("RegistryClient (against a local HTTP registry)", () => {
  it("resolves a tag to the index digest, asking for index and manifest types, with one probe per registry", async () => {
    const host = await registry((req, res) => {
      if (req.url === "/v2/") return res.writeHead(200).end("{}");
      expect(req.headers.accept).toContain("application/vnd.oci.image.index.v1+json");
      expect(req.headers.accept).toContain("application/vnd.docker.distribution.manifest.v2+json");
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const env = dockerConfig({});
    const client = new RegistryClient(env);
    const refs = ["a:1", "b:2", "c"].map((name) => parseImageRef(`${host}/team/${name}`));
    expect(await Promise.all(refs.map((r) => client.resolve(r)))).toEqual([
      indexDigest,
      indexDigest,
      indexDigest,
    ]);
    expect(requests.filter((r) => r.startsWith("GET /v2/ "))).toHaveLength(1);
    expect(requests).toContain("HEAD /v2/team/c/manifests/latest -");
  });

  it("hashes the manifest bytes when the registry sends no digest header (and falls back to GET on 405)", async () => {
    const host = await registry((req, res) => {
      if (req.url === "/v2/") return res.writeHead(200).end();
      if (req.method === "HEAD") return res.writeHead(405).end();
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" }).end(manifest);
    });
    const client = new RegistryClient(dockerConfig({}));
    expect(await client.resolve(parseImageRef(`${host}/app:1`))).toBe(manifestDigest);
  });

  it("answers Basic challenges with the docker login from config.json auths", async () => {
    const host = await registry((req, res) => {
      if (req.headers.authorization !== basic("kaupang", "s3cret:with:colons"))
        return res.writeHead(401, { "www-authenticate": 'Basic realm="Registry Realm"' }).end();
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const env = dockerConfig({
      auths: { [host]: { auth: Buffer.from("kaupang:s3cret:with:colons").toString("base64") } },
    });
    expect(await new RegistryClient(env).resolve(parseImageRef(`${host}/private/app:1`))).toBe(indexDigest);

    const anonymous = new RegistryClient(dockerConfig({}));
    await expect(anonymous.resolve(parseImageRef(`${host}/private/app:1`))).rejects.toThrow(
      new RegistryError("no-credentials", `${host} requires credentials and no docker login has them`),
    );
    const wrong = new RegistryClient(
      dockerConfig({ auths: { [`https://${host}`]: { username: "kaupang", password: "nope" } } }),
    );
    await expect(wrong.resolve(parseImageRef(`${host}/private/app:1`))).rejects.toMatchObject({
      failure: "denied",
      message: `${host} denied pull access to private/app for the docker login`,
    });
  });

  it("gets one Bearer token per repository from the token service, with the login, and shares it", async () => {
    let tokens = 0;
    let host = "";
    host = await registry((req, res) => {
      const url = new URL(req.url!, "http://x");
      if (url.pathname === "/token") {
        expect(url.searchParams.get("service")).toBe("kaupang-test");
        expect(req.headers.authorization).toBe(basic("ci", "pw"));
        tokens++;
        return res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify({ token: `t-${url.searchParams.get("scope")}` }));
      }
      const scope = `repository:${url.pathname.split("/manifests/")[0]!.slice(4)}:pull`;
      if (req.headers.authorization !== `Bearer t-${scope}`)
        return res
          .writeHead(401, {
            "www-authenticate": `Bearer realm="http://${host}/token",service="kaupang-test"`,
          })
          .end();
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const client = new RegistryClient(
      dockerConfig({ auths: { [host]: { username: "ci", password: "pw" } } }),
    );
    const refs = ["one:1", "one:2", "one:3", "two:1"].map((r) => parseImageRef(`${host}/org/${r}`));
    expect(await Promise.all(refs.map((r) => client.resolve(r)))).toEqual(Array(4).fill(indexDigest));
    expect(tokens).toBe(2);
  });

  it("exchanges an identity token (refresh token) at the token service", async () => {
    let host = "";
    host = await registry((req, res) => {
      if (req.url === "/oauth2/token" && req.method === "POST") {
        let body = "";
        req.on("data", (chunk) => {
          body += chunk;
        });
        req.on("end", () => {
          const form = new URLSearchParams(body);
          expect(form.get("grant_type")).toBe("refresh_token");
          expect(form.get("refresh_token")).toBe("refresh-me");
          expect(form.get("scope")).toBe("repository:org/app:pull");
          res.writeHead(200).end(JSON.stringify({ access_token: "fresh" }));
        });
        return;
      }
      if (req.headers.authorization !== "Bearer fresh")
        return res.writeHead(401, { "www-authenticate": `Bearer realm="http://${host}/oauth2/token"` }).end();
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const env = dockerConfig({ auths: { [host]: { identitytoken: "refresh-me" } } });
    expect(await new RegistryClient(env).resolve(parseImageRef(`${host}/org/app:1`))).toBe(indexDigest);
  });

  it("asks a credential helper only for the registry it is configured for", async () => {
    const bin = mkdtempSync(join(tmpdir(), "kaupang-credhelper-"));
    const helper = join(bin, "docker-credential-kaupangtest");
    writeFileSync(
      helper,
      `#!/bin/sh\n[ "$1" = get ] || exit 1\nread server\n[ "$server" = "${"$"}{EXPECT}" ] || { echo "credentials not found in native keychain"; exit 1; }\necho '{"ServerURL":"'$server'","Username":"helper-user","Secret":"helper-pass"}'\n`,
    );
    chmodSync(helper, 0o755);
    const host = "127.0.0.1:5999";
    const env = {
      ...dockerConfig({ credHelpers: { [host]: "kaupangtest" } }),
      PATH: `${bin}:${process.env.PATH}`,
      EXPECT: host,
    };
    expect(await credentialsFor(host, env)).toEqual({ username: "helper-user", password: "helper-pass" });
    expect(await credentialsFor("127.0.0.1:6000", env)).toBeUndefined();
  });

  it("gives up on a registry that does not answer, naming it and the wait", async () => {
    const host = await registry(() => {}); // accepts, never answers
    const client = new RegistryClient(dockerConfig({}), 1000);
    await expect(client.resolve(parseImageRef(`${host}/app:1`))).rejects.toMatchObject({
      failure: "unreachable",
      message: `${host} did not answer within 1s`,
    });
  });

  it("goes through the proxy named by HTTP_PROXY", async () => {
    const host = await registry((req, res) => {
      if (req.url === "/v2/") return res.writeHead(200).end();
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const tunnelled: string[] = [];
    const proxy = createServer((_req, res) => res.writeHead(400).end());
    proxy.on("connect", (req, socket) => {
      tunnelled.push(req.url!);
      const [h, p] = req.url!.split(":");
      const upstream = connect(Number(p), h!, () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.pipe(socket).on("error", () => {});
        socket.pipe(upstream).on("error", () => {});
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const client = new RegistryClient({ ...dockerConfig({}), HTTP_PROXY: proxyUrl, NO_PROXY: "" });
    expect(await client.resolve(parseImageRef(`${host}/app:1`))).toBe(indexDigest);
    expect(tunnelled).toContain(host);
  });

  it("reports a missing tag as not found and a closed port as unreachable", async () => {
    const host = await registry((req, res) => {
      if (req.url === "/v2/") return res.writeHead(200).end();
      res.writeHead(404).end();
    });
    const client = new RegistryClient(dockerConfig({}));
    await expect(client.resolve(parseImageRef(`${host}/app:nope`))).rejects.toMatchObject({
      failure: "not-found",
    });
    const closed = await registry(() => {});
    await new Promise((resolve) => servers.pop()!.close(resolve));
    await expect(client.resolve(parseImageRef(`${closed}/app:1`))).rejects.toMatchObject({
      failure: "unreachable",
      message: `cannot connect to ${closed}: ECONNREFUSED`,
    });
  });
});

describe("resolveAll", () => {
  it("names the service and ref of the first failure, with the registry's reason and a hint", async () => {
    const host = await registry((req, res) => {
      if (req.url === "/v2/") return res.writeHead(200).end();
      if (req.url?.includes("missing")) return res.writeHead(404).end();
      res.writeHead(200, { "docker-content-digest": indexDigest }).end();
    });
    const ok = await resolveAll([
      { owner: "app.web", ref: `${host}/web:1` },
      { owner: "app.api", ref: `${host}/web:1` },
      { owner: "app.db", ref: `${host}/db@${manifestDigest}` },
    ]);
    expect([...ok]).toEqual([
      [`${host}/web:1`, indexDigest],
      [`${host}/db@${manifestDigest}`, manifestDigest],
    ]);
    await expect(resolveAll([{ owner: "app.web", ref: `${host}/missing:1` }])).rejects.toMatchObject({
      message: `app.web: image ${host}/missing:1 does not exist in its registry (manifest unknown)`,
      hint: "push it first (kaupang build --push), fix the tag, or deploy a local build with --no-resolve",
    });
  });
});
