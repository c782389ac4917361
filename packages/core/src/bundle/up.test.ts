/**
 * `up --bundle` to a target with hosts, with rollback on failure, against an
 * in-memory Backend: the host that fails and the hosts done before it return
 * to the last deploy a signed bundle carried in (the target requires
 * signatures), never to a later deploy from source.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json } from "../../../../test/support/testdir.js";
import { fakeBackend } from "../deploy/testing/fake-backend.js";
import { digest, hall } from "../deploy/testing/fixtures.js";
import { up } from "../deploy/up.js";
import { ledgerAt } from "../ledger/ledger.js";
import { deployments } from "../ledger/record.js";
import { createBundle } from "./create.js";
import { deployBundle } from "./up.js";

const h1 = "ssh://root@10.0.0.1";
const h2 = "ssh://root@10.0.0.2";

const records = async (cwd: string, host: string) =>
  deployments(
    (
      await ledgerAt(
        { cacheDir: join(cwd, ".kaupang"), remote: undefined },
        { environment: "market", target: "prod", host },
      ).read()
    ).records,
  );

describe("up --bundle with rollback on failure, on a target with hosts", () => {
  it("restores every host to the last signed bundle's deploy, past a later one from source", async () => {
    const cwd = hall(
      {},
      {
        solutions: { shop: { version: "1.0.0", environments: ["market"], target: "prod" } },
        targets: { prod: { hosts: [h1, h2], requireSignature: { key: "./keys/site.pub" } } },
      },
    );
    const keys = generateKeyPairSync("ed25519");
    mkdirSync(join(cwd, "keys"));
    writeFileSync(join(cwd, "keys/site.pub"), keys.publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(cwd, "keys/site.key"), keys.privateKey.export({ type: "pkcs8", format: "pem" }));
    const market = (c: string) =>
      writeFileSync(
        join(cwd, "environments/market.json"),
        json({ dependsOn: "saga", services: { web: `r/web@${digest(c)}` } }),
      );
    const bundle = (out: string) =>
      createBundle({ cwd, solution: "shop", target: "prod", out: join(cwd, out), sign: "keys/site.key" });
    const backend = fakeBackend();
    const site = { cwd, target: "prod", backendImpl: backend, processEnv: {} };

    await bundle("b1");
    const first = await deployBundle({ ...site, bundle: join(cwd, "b1") });
    const carried = new Map(
      first.deployments.filter((d) => d.environment === "market").map((d) => [d.host, d.deploymentId]),
    );
    market("c");
    await up({ ...site, environments: ["market"] }); // from source: runs on both hosts, outside the bounds
    market("d");
    await bundle("b2");
    backend.failApply.add(`market on ${h2}`);
    backend.calls.length = 0;
    backend.applied.length = 0;
    const error = (await deployBundle({ ...site, bundle: join(cwd, "b2"), rollbackOnFailure: true }).catch(
      (e: unknown) => e,
    )) as Error & { hint: string };
    expect(error.message).toContain(`rolled back to ${carried.get(h2)}`);
    expect(error.hint).toContain(`restored the earlier version of market on ${h1}`);
    const webDigests = backend.applied
      .filter((e) => e.environment === "market")
      .map((e) => e.images[0]!.digest);
    expect(webDigests).toEqual([digest("d"), digest("d"), digest("b"), digest("b")]);
    for (const host of [h1, h2]) {
      const last = (await records(cwd, host)).at(-1)!;
      expect(last).toMatchObject({ action: "rollback", status: "succeeded", rollbackOf: carried.get(host) });
      expect(last.bundle?.solution).toBe("shop@1.0.0");
    }
  });
});
