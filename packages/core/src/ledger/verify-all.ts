import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { KaupangError } from "../base/errors.js";
import { loadProject } from "../config/project.js";
import { hostKey, Ledger, ledgerDir } from "./ledger.js";

export interface LedgerCheck {
  environment: string;
  target: string;
  /** One of the target's hosts (its own ledger), as its records name it. */
  host?: string;
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
  const entries = existsSync(dir)
    ? readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))
    : [];
  const checks: LedgerCheck[] = [];
  for (const entry of entries) {
    // <env>@<target>.jsonl, or <env>@<target>/ holding one ledger per host
    const perHost = entry.isDirectory() && entry.name.includes("@");
    if (!perHost && !entry.name.endsWith(".jsonl")) continue;
    const [environment, target] = entry.name.replace(/\.jsonl$/, "").split("@") as [string, string];
    if (options.environment && environment !== options.environment) continue;
    if (options.target && target !== options.target) continue;
    if (!perHost) {
      const result = new Ledger(cacheDir, environment, target, { root: project.root }).verify();
      checks.push({ environment, target, ...result });
      continue;
    }
    for (const file of readdirSync(join(dir, entry.name))
      .filter((f) => f.endsWith(".jsonl"))
      .sort()) {
      const configured = project.config.targets?.[target]?.hosts ?? [];
      const host =
        configured.find((h) => `${hostKey(h)}.jsonl` === file) ?? hostOfLedger(join(dir, entry.name, file));
      if (!host) {
        throw new KaupangError(
          "ERR_LEDGER_CORRUPT",
          `${relative(project.root, join(dir, entry.name, file))}: not a host of target "${target}", and its first record names none`,
        );
      }
      const result = new Ledger(cacheDir, environment, target, { root: project.root, host }).verify();
      checks.push({ environment, target, host, ...result });
    }
  }
  return checks;
}

/** The host a per-host ledger's first record names (for a host no longer in the config). */
function hostOfLedger(path: string): string | undefined {
  const text = readFileSync(path, "utf8");
  const first = text.slice(0, text.indexOf("\n") + 1 || undefined);
  try {
    return (JSON.parse(first) as { host?: string }).host;
  } catch {
    return undefined;
  }
}
