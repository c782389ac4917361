/**
 * Images from the htpasswd registry on the real node: the kubelet pulls with
 * the deployer's docker login, which kaupang hands to the cluster as a
 * kubernetes.io/dockerconfigjson Secret on kubectl's stdin (never in a file,
 * the dry run or the ledger); or with a pull Secret the target names. Without
 * either, `up` stops at once naming the service and the refused pull.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerConfig } from "../support/hosts.js";
import { kaupang } from "../support/kaupang.js";
import {
  deleteNamespaces,
  execIn,
  filesUnder,
  fresh,
  k8sProject,
  kubectl,
  kubectlApply,
  pushVersion,
  registry,
  requireCluster,
  runningOnNode,
  withInit,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const authRegistry = () => process.env.KAUPANG_TEST_AUTH_REGISTRY ?? "127.0.0.1:5001";
const user = () => process.env.KAUPANG_TEST_AUTH_USER ?? "kaupang";
const password = () => process.env.KAUPANG_TEST_AUTH_PASSWORD ?? "kaupang-secret";
const errorLines = (stderr: string) => stderr.split("\n").filter((l) => /^(error|hint): /.test(l));

const server = (image: string) =>
  withInit({
    image,
    command: ["sh", "-c", "exec httpd -f -p 8080 -h /www"],
    ports: ["8080"],
    healthcheck: { test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"], interval: "1s" },
  });

/** Push a version of `name`/web to the htpasswd registry only; its tag ref and digest. */
function pushPrivate(name: string, version: string): { ref: string; digest: string } {
  const ref = `${authRegistry()}/${name}/web:latest`;
  const digest = pushVersion(ref, version, { DOCKER_CONFIG: dockerConfig(true) });
  return { ref, digest };
}

/** The HTTP status a manifest request for `name`/web:latest gets from `host` without credentials. */
async function anonymousStatus(host: string, name: string): Promise<number> {
  return (await fetch(`http://${host}/v2/${name}/web/manifests/latest`, { method: "HEAD" })).status;
}

describe("images from the htpasswd registry on the real node", () => {
  it("rolls out with the deployer's docker login, which no artifact, dry run or ledger holds", async () => {
    const name = fresh();
    const { ref, digest } = pushPrivate(name, "private-one");
    // Only the htpasswd registry has it, and it refuses anonymous pulls.
    expect(await anonymousStatus(authRegistry(), name)).toBe(401);
    expect(await anonymousStatus(registry(), name)).toBe(404);
    const dir = k8sProject(name, { app: { services: { web: server(ref) } } });
    const env = { DOCKER_CONFIG: dockerConfig(true) };
    const secret = `${name}-app-registry-auth`;

    const dry = await kaupang(["up", "app", "--target", "k8s", "--dry-run", "--cwd", dir], { env });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`Secret ${secret} (on stdin) with your docker login for ${authRegistry()}`);
    expect(dry.stdout).toMatch(/kubectl .*apply .*-f \S+app\.k8s\.yaml -f -/);

    const up = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir], { env });
    expect(up.code, up.stderr).toBe(0);
    const [pod] = runningOnNode(name, name, "app", "web");
    expect(pod!.pulled).toBe(digest);
    expect(execIn(name, pod!.name, "wget", "-q", "-O", "-", "http://web:8080/version").trim()).toBe(
      "private-one",
    );
    const type = kubectl("get", "secret", secret, "-n", name, "-o", "jsonpath={.type}");
    expect(type.out).toBe("kubernetes.io/dockerconfigjson");
    const pulledWith = kubectl(
      "get",
      "pod",
      pod!.name,
      "-n",
      name,
      "-o",
      "jsonpath={.spec.imagePullSecrets}",
    );
    expect(JSON.parse(pulledWith.out)).toEqual([{ name: secret }]);

    // The login is in the cluster's Secret only: not in what kaupang printed or wrote.
    const basic = Buffer.from(`${user()}:${password()}`).toString("base64");
    const written = filesUnder(dir);
    expect(written.some((f) => f.path.includes("ledger") || f.path.endsWith(".jsonl"))).toBe(true);
    for (const text of [dry.stdout, dry.stderr, up.stdout, up.stderr, ...written.map((f) => f.content)]) {
      expect(text).not.toContain(password());
      expect(text).not.toContain(basic);
    }

    const down = await kaupang(["down", "app", "--target", "k8s", "--cwd", dir], { env });
    expect(down.code, down.stderr).toBe(0);
    expect(kubectl("get", "secret", secret, "-n", name, "--ignore-not-found", "-o", "name").out).toBe("");
  });

  it("pulls with a Secret the target names in imagePullSecrets, without any docker login", async () => {
    const name = fresh();
    const { ref, digest } = pushPrivate(name, "named-secret");
    const dockerconfig = {
      auths: { [authRegistry()]: { auth: Buffer.from(`${user()}:${password()}`).toString("base64") } },
    };
    kubectlApply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: [
          { apiVersion: "v1", kind: "Namespace", metadata: { name } },
          {
            apiVersion: "v1",
            kind: "Secret",
            type: "kubernetes.io/dockerconfigjson",
            metadata: { name: "corp-pull", namespace: name },
            data: { ".dockerconfigjson": Buffer.from(JSON.stringify(dockerconfig)).toString("base64") },
          },
        ],
      }),
    );
    const dir = k8sProject(
      name,
      { app: { services: { web: server(`${ref.replace(/:latest$/, "")}@${digest}`) } } },
      { imagePullSecrets: ["corp-pull"] },
    );
    const up = await kaupang(["up", "app", "--target", "k8s", "--cwd", dir], {
      env: { DOCKER_CONFIG: dockerConfig(false) },
    });
    expect(up.code, up.stderr).toBe(0);
    const [pod] = runningOnNode(name, name, "app", "web");
    expect(pod!.pulled).toBe(digest);
    expect(kubectl("get", "secret", "-n", name, "-o", "name").out.split("\n")).toEqual(["secret/corp-pull"]);
  });

  it("without a login, up stops at once naming the service and the refused pull, not at the timeout; logged in, it rolls out", async () => {
    const name = fresh();
    const { ref, digest } = pushPrivate(name, "no-login");
    // Pinned by digest: nothing to resolve, so only the node's pull needs the login.
    const image = `${ref.replace(/:latest$/, "")}@${digest}`;
    const dir = k8sProject(name, { app: { services: { web: server(image) } } });
    const began = Date.now();
    const up = await kaupang(["up", "app", "--target", "k8s", "--timeout", "180s", "--cwd", dir], {
      env: { DOCKER_CONFIG: dockerConfig(false) },
    });
    const took = Date.now() - began;
    expect(up.code).not.toBe(0);
    const [error, hint] = errorLines(up.stderr);
    expect(error).toMatch(
      new RegExp(
        `^error: app: service web cannot pull its image ${image.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} on the cluster \\((ErrImagePull|ImagePullBackOff): .*(401|[Uu]nauthorized)`,
      ),
    );
    expect(hint).toBe(
      `hint: no docker login for ${authRegistry()} was passed to the cluster: docker login ${authRegistry()} before kaupang up (kaupang hands it to the pods as a pull Secret), or name an existing pull Secret in the target's imagePullSecrets`,
    );
    expect(took).toBeLessThan(60_000);

    // Logged in, the next up rolls out; the failed pod it replaces does not fail it.
    const again = await kaupang(["up", "app", "--target", "k8s", "--timeout", "180s", "--cwd", dir], {
      env: { DOCKER_CONFIG: dockerConfig(true) },
    });
    expect(again.code, again.stderr).toBe(0);
    expect(runningOnNode(name, name, "app", "web").map((p) => p.pulled)).toEqual([digest]);
  });
});
