import { existsSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { loadProject } from "../config/project.js";
import { Ledger, ledgerDir } from "./ledger.js";

export interface LedgerCheck {
  environment: string;
  target: string;
  records: number;
  tornTail: boolean;
}

/** Verify the hash chains of the project's ledgers (optionally one environment and/or target). */
export async function verifyLedgers(options: {
  cwd?: string | undefined;
  environment?: string | undefined;
  target?: string | undefined;
}): Promise<LedgerCheck[]> {
  const project = await loadProject(options.cwd ?? process.cwd());
  const cacheDir = resolve(project.root, project.config.cacheDir ?? ".kaupang");
  const dir = ledgerDir(cacheDir);
  const files = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith(".jsonl"))
        .sort()
    : [];
  const checks: LedgerCheck[] = [];
  for (const file of files) {
    const [environment, target] = file.slice(0, -".jsonl".length).split("@") as [string, string];
    if (options.environment && environment !== options.environment) continue;
    if (options.target && target !== options.target) continue;
    const result = new Ledger(cacheDir, environment, target, { root: project.root }).verify();
    checks.push({ environment, target, ...result });
  }
  return checks;
}
