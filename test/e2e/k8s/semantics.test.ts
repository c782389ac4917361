/**
 * A deploy finishes or says so, on the Kubernetes tier (real API server, and
 * pods on its real node: what is checked is what the node runs).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kaupang, sh } from "../support/kaupang.js";
import {
  baseImage,
  context,
  deleteNamespaces,
  execIn,
  filesUnder,
  fresh,
  getJson,
  k8sProject,
  kubeconfig,
  kubectl,
  podImages,
  pushVersion,
  registry,
  requireCluster,
  runningOnNode,
  writeEnvironment,
} from "./support.js";

beforeAll(requireCluster);
afterAll(deleteNamespaces);

const server = (extra: Record<string, unknown> = {}) => ({
  image: baseImage(),
  command: ["httpd", "-f", "-p", "8080"],
  ports: ["8080"],
  ...extra,
});
const run = (dir: string, args: string[], env: Record<string, string> = {}) =>
  kaupang([...args, "--target", "k8s", "--cwd", dir], { env });

describe("kubernetes: rollback on failure", () => {
  it("a version that never becomes ready is replaced by the last succeeded one; two records; exit 1", async () => {
    const name = fresh();
    const ref = `${registry()}/${name}/web:latest`;
    const repo = ref.replace(/:latest$/, "");
    const dir = k8sProject(
      name,
      { app: { services: { web: server({ image: ref }) } } },
      { rollbackOnFailure: true },
    );
    const first = pushVersion(ref, "one");
    const good = await run(dir, ["up", "app", "--output", "json"]);
    expect(good.code, good.stderr).toBe(0);
    const goodId = JSON.parse(good.stdout).deployments[0].deploymentId as string;

    pushVersion(ref, "two");
    // No node has this label: the new pod stays Pending and the rollout never completes.
    writeEnvironment(dir, "app", {
      services: {
        web: server({
          image: ref,
          kubernetes: { spec: { template: { spec: { nodeSelector: { "kaupang.dev/none": "x" } } } } },
        }),
      },
    });
    const bad = await run(dir, ["up", "app", "--timeout", "8s"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(new RegExp(`! app: deploy \\S+ failed: rolling back to ${goodId}`));
    expect(bad.stderr).toMatch(
      new RegExp(
        `^error: app: service web did not become ready within 8s .*; rolled back to ${goodId} \\(recorded as \\S+\\)$`,
        "m",
      ),
    );

    const web = getJson("deployment", "-n", name, "web");
    expect(web.spec.template.spec.containers[0].image).toBe(`${repo}@${first}`);
    expect(web.spec.template.spec.nodeSelector).toBeUndefined();
    expect(web.status.readyReplicas).toBe(1);
    expect(podImages(name, name, "app", "web")).toEqual([`${repo}@${first}`]);
    // The node runs the first version again.
    const [back] = runningOnNode(name, name, "app", "web");
    expect(back!.pulled).toBe(first);
    expect(execIn(name, back!.name, "cat", "/www/version")).toBe("one");
    const history = JSON.parse((await run(dir, ["history", "app", "--output", "json"])).stdout);
    expect(history.map((d: Record<string, string>) => [d.action, d.status])).toEqual([
      ["up", "succeeded"],
      ["up", "failed"],
      ["rollback", "succeeded"],
    ]);
    expect(history[2]).toMatchObject({ rollbackOf: goodId, trigger: history[1].id });
  });
});

describe("kubernetes: a secret's value changed in the cluster rolls the Deployments that use it", () => {
  it("up redeploys with a new pod-template checksum; diff names the secret; the value is in nothing kaupang wrote or printed", async () => {
    const name = fresh();
    const one = `one-${name}-value`;
    const two = `two-${name}-value`;
    const dir = k8sProject(name, {
      app: {
        services: {
          web: server({ env: { TOKEN: { $secret: "KSEM_TOKEN" } } }),
          other: server({ ports: ["8081"] }),
        },
      },
    });
    expect(kubectl("create", "namespace", name).code).toBe(0);
    /** Create or replace the cluster Secret with `value` (as an operator rotating it would). */
    const apply = (value: string) => {
      const data = Buffer.from(value).toString("base64");
      const manifest = JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: `${name}-secrets`, namespace: name },
        data: { KSEM_TOKEN: data },
      });
      const r = sh(["kubectl", "--context", context, "apply", "-f", "-"], {
        input: manifest,
        env: { KUBECONFIG: kubeconfig() },
      });
      expect(r.code, r.err).toBe(0);
    };
    apply(one);
    const outputs = [await run(dir, ["up", "app"])];
    expect(outputs[0]!.code, outputs[0]!.stderr).toBe(0);
    const checksum = () =>
      getJson("deployment", "-n", name, "web").spec.template.metadata.annotations?.[
        "kaupang.dev/secret-checksum"
      ];
    const before = checksum();
    expect(before).toMatch(/^sha256:[0-9a-f]{64}$/);
    const otherGeneration = getJson("deployment", "-n", name, "other").metadata.generation;
    outputs.push(await run(dir, ["up", "app"]));
    expect(outputs[1]!.stderr).toContain("unchanged: nothing to apply");

    apply(two);
    outputs.push(await run(dir, ["diff", "app", "--no-resolve"]));
    expect(outputs[2]!.stdout).toContain("~ secret KSEM_TOKEN changed");
    outputs.push(await run(dir, ["up", "app"]));
    expect(outputs[3]!.code, outputs[3]!.stderr).toBe(0);
    expect(outputs[3]!.stderr).toContain("secret KSEM_TOKEN changed: applying");
    expect(checksum()).not.toBe(before);
    // The service that uses no secret was not rolled.
    expect(getJson("deployment", "-n", name, "other").metadata.generation).toBe(otherGeneration);
    const rs = getJson("replicasets", "-n", name, "-l", "app.kubernetes.io/name=web").items;
    expect(rs.length).toBe(2);
    // The new pod's process has the new value.
    const [web] = runningOnNode(name, name, "app", "web");
    expect(execIn(name, web!.name, "sh", "-c", 'printf %s "$TOKEN"')).toBe(two);

    for (const value of [one, two]) {
      for (const f of filesUnder(join(dir, ".kaupang"))) expect(f.content, f.path).not.toContain(value);
      for (const o of outputs) expect(o.stdout + o.stderr).not.toContain(value);
    }
  });
});
