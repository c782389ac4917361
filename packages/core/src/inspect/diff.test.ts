/** What each ledger record changed, and what a rollback would change, read from the recorded units. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { json } from "../../../../test/support/testdir.js";
import { openLedger, planRollback } from "../deploy/rollback.js";
import { fakeBackend } from "../deploy/testing/fake-backend.js";
import { digest, hall } from "../deploy/testing/fixtures.js";
import { up } from "../deploy/up.js";
import { deployments } from "../ledger/record.js";
import { recordChanges, rollbackChanges } from "./diff.js";

const market = (cwd: string, web: Record<string, unknown>) =>
  writeFileSync(join(cwd, "environments/market.json"), json({ dependsOn: "saga", services: { web } }));

describe("recordChanges", () => {
  it("tells an env-only or command-only deploy apart from an image change", async () => {
    const cwd = hall();
    const backend = fakeBackend();
    const image = `r/web@${digest("b")}`;
    const deploy = () => up({ cwd, environments: ["market"], backendImpl: backend, processEnv: {} });
    market(cwd, { image, env: { LOG_LEVEL: "info" } });
    await deploy();
    market(cwd, { image, env: { LOG_LEVEL: "debug" } });
    await deploy();
    market(cwd, { image, env: { LOG_LEVEL: "debug" }, command: ["serve", "--fast"] });
    backend.failApply.add("market");
    await expect(deploy()).rejects.toThrow();
    backend.failApply.delete("market");
    market(cwd, { image: `r/web@${digest("c")}`, env: { LOG_LEVEL: "debug" } });
    await deploy();
    await deploy(); // nothing changed

    const opened = await openLedger({ cwd, environment: "market" });
    // One entry per deploy: an outcome replaces its started record.
    const records = deployments(opened.records);
    const changes = (await recordChanges(opened.ledger, records)).map((list) =>
      list?.map((c) => `${c.service} ${c.detail}`),
    );
    expect(records.map((r) => r.status)).toEqual([
      "succeeded",
      "succeeded",
      "failed",
      "succeeded",
      "unchanged",
    ]);
    expect(changes).toEqual([
      [`web added (${image})`],
      ['web env LOG_LEVEL: "info" → "debug"'],
      // Against what ran (the last succeeded deploy), not the failed attempt.
      ['web command [] → ["serve","--fast"]'],
      [`web image ${image} → r/web@${digest("c")}`],
      [],
    ]);

    const plan = await planRollback({ cwd, environment: "market" });
    expect(plan.record.id).toBe(records[1]!.id);
    expect(await rollbackChanges(plan.context.records, plan.context.ledger, plan.unit)).toEqual([
      { service: "web", kind: "image", detail: `image r/web@${digest("c")} → ${image}` },
    ]);
  });
});
