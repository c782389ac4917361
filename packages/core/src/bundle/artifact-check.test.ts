import { describe, expect, it } from "vitest";
import { toYaml, toYamlStream } from "../render/yaml.js";
import { type ArtifactContext, checkArtifact } from "./artifact-check.js";

const id = `sha256:${"1".repeat(64)}`;
const digest = `sha256:${"2".repeat(64)}`;
const ctx = (over: Partial<ArtifactContext> = {}): ArtifactContext => ({
  where: "b/artifacts/app.compose.yaml",
  backend: "compose",
  project: "shop",
  environment: "app",
  namespace: "shop",
  pins: new Set([id, digest]),
  ...over,
});

const compose = (service: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  toYaml({
    name: "shop-app",
    services: { web: { image: id, ...service } },
    networks: { default: { name: "shop", external: true } },
    ...top,
  });

describe("bundle artifact checks", () => {
  it("accepts what kaupang renders: pinned images, the project's network", () => {
    expect(() => checkArtifact(compose({}), ctx())).not.toThrow();
    expect(() => checkArtifact(compose({ image: `127.0.0.1:5000/web@${digest}` }), ctx())).not.toThrow();
    expect(() => checkArtifact(compose({}, { volumes: { data: {} } }), ctx())).not.toThrow();
  });

  it("refuses compose keys that read or build on the deploying host", () => {
    for (const key of ["build", "env_file", "extends", "label_file"]) {
      expect(() => checkArtifact(compose({ [key]: "/etc" }), ctx())).toThrow(
        `b/artifacts/app.compose.yaml: services.web.${key}: a bundle's artifact may not make compose read or build on the deploying host; refused`,
      );
    }
    expect(() => checkArtifact(compose({}, { include: ["/etc/x.yaml"] }), ctx())).toThrow(
      'include: kaupang does not render a top-level "include"',
    );
    expect(() => checkArtifact(compose({}, { secrets: { s: { file: "/etc/shadow" } } }), ctx())).toThrow(
      'secrets: kaupang does not render a top-level "secrets"',
    );
    expect(() =>
      checkArtifact(
        compose({}, { volumes: { data: { driver_opts: { type: "none", device: "/", o: "bind" } } } }),
        ctx(),
      ),
    ).toThrow("volumes.data: kaupang renders named volumes without options");
  });

  it("refuses images the manifest does not pin, and another project's names", () => {
    expect(() => checkArtifact(compose({ image: "evil/miner:latest" }), ctx())).toThrow(
      'services.web.image: image "evil/miner:latest" is not an image ID or digest that bundle.json lists for app; refused',
    );
    expect(() => checkArtifact(compose({}), ctx({ project: "other" }))).toThrow(
      'name: "shop-app" is not "other-app"',
    );
    const foreign = toYaml({
      services: { web: { image: id } },
      networks: { default: { name: "payroll", external: true } },
    });
    expect(() => checkArtifact(foreign, ctx())).toThrow(
      'networks.default: only project shop\'s network (external, named "shop") may be used, not "payroll"',
    );
  });

  it("Kubernetes: only kaupang's kinds, all in one namespace, which becomes the site's", () => {
    const deployment = (namespace: string, image = id) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web", namespace },
      spec: { template: { spec: { containers: [{ name: "web", image }] } } },
    });
    const k8s = (docs: unknown[]) => toYamlStream(docs);
    const namespace = { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop" } };
    const kube = ctx({ backend: "kubernetes", where: "b/artifacts/app.k8s.yaml" });
    const same = k8s([namespace, deployment("shop")]);
    expect(checkArtifact(same, kube)).toBe(same);
    // Made for namespace prod: every object moves into the site's (header kept, nothing else changed).
    const prod = { ...namespace, metadata: { name: "prod" } };
    const made = `# kaupang: shop/app for target k8s (kubernetes). Generated; edits are overwritten.\n${k8s([prod, deployment("prod")])}`;
    const moved = checkArtifact(made, kube);
    expect(moved).toBe(
      `# kaupang: shop/app for target k8s (kubernetes). Generated; edits are overwritten.\n${k8s([namespace, deployment("shop")])}`,
    );
    expect(moved).not.toContain("prod");
    expect(() => checkArtifact(k8s([namespace, deployment("prod")]), kube)).toThrow(
      'document 2 (Deployment web): metadata.namespace: "prod", while the objects before it are in "shop"; kaupang renders one namespace per target; refused',
    );
    expect(() => checkArtifact(k8s([deployment("")]), kube)).toThrow(
      "document 1 (Deployment web): metadata.namespace: is not set; refused",
    );
    expect(() =>
      checkArtifact(
        k8s([
          { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "x" } },
        ]),
        kube,
      ),
    ).toThrow('kind: kaupang renders only Namespace, Deployment, Job, Service, not "ClusterRoleBinding"');
    expect(() => checkArtifact(k8s([namespace, deployment("shop", "evil:1")]), kube)).toThrow(
      'containers[0].image: image "evil:1" is not an image ID or digest',
    );
  });
});
