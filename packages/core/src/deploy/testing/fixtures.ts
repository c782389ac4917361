/** Small projects for the orchestration tests, and their ledgers. */
import { join } from "node:path";
import { json, testdir } from "../../../../../test/support/testdir.js";
import { ledgerAt } from "../../ledger/ledger.js";
import { type Deployment, deployments } from "../../ledger/record.js";

export const digest = (c: string) => `sha256:${c.repeat(64)}`;

/** saga (store) ← market (web), images pinned by digest in the config: nothing to resolve. */
export function hall(market: Record<string, unknown> = {}, config: Record<string, unknown> = {}): string {
  return testdir({
    "kaupang.config.json": json({ project: "hall", environments: "./environments", ...config }),
    "environments/saga.json": json({ services: { store: `r/store@${digest("a")}` } }),
    "environments/market.json": json({
      dependsOn: "saga",
      services: { web: `r/web@${digest("b")}` },
      ...market,
    }),
  });
}

/** The deploys recorded for environment@target, one entry each (a started record and its outcome are one). */
export const records = async (cwd: string, environment: string, target = "local"): Promise<Deployment[]> =>
  deployments(
    (await ledgerAt({ cacheDir: join(cwd, ".kaupang"), remote: undefined }, { environment, target }).read())
      .records,
  );
