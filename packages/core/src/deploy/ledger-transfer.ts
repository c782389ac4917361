/**
 * `kaupang ledger export` and `ledger import`: move the history of one
 * environment@target between stores — local files and the target, or one
 * target and another — as one JSON file holding every record byte for byte
 * (so the hash chain verifies wherever it lands) and every unit they name.
 *
 * Import verifies the file first (links, hashes, sequence, each unit against
 * its digest), then, holding the destination's lock, writes the units and
 * appends the records the destination does not have yet: an empty
 * destination takes them all, one whose records are the file's first ones
 * takes the rest, one that holds the whole file already takes nothing, and
 * one whose records differ from the file's is refused — nothing is written,
 * so two histories are never merged into one.
 */
import { readFile } from "node:fs/promises";
import * as z from "zod";
import { KaupangError } from "../base/errors.js";
import { writeFileAtomic } from "../base/fs.js";
import type { StateMode } from "../base/target.js";
import { Ledger, ledgerAt, sha256 } from "../ledger/ledger.js";
import { acquireLock } from "../ledger/lock.js";
import type { StoreLocation } from "../ledger/state-store.js";
import type { StateStore } from "../ledger/store.js";
import { locateState } from "./state-location.js";

const ExportSchema = z.object({
  kind: z.literal("kaupang.ledger"),
  version: z.literal(1),
  project: z.string().optional(),
  environment: z.string(),
  target: z.string(),
  exportedAt: z.string(),
  /** The records exactly as stored, one JSON line each, oldest first. */
  records: z.array(z.string()),
  /** Every unit a record names: digest → its text. */
  units: z.record(z.string(), z.string()),
});
type LedgerExport = z.infer<typeof ExportSchema>;

interface TransferOptions {
  cwd?: string | undefined;
  target?: string | undefined;
  /** Read or write local files or the target instead of where the target's config says. */
  state?: StateMode | undefined;
  kaupangVersion?: string | undefined;
}

/** Where a store is, for the messages of both commands: "local files (.kaupang/ledger/web@prod.jsonl)". */
const describe = (location: StoreLocation, ledger: Ledger) =>
  location.remote ? `target ${ledger.scope.target} (${ledger.location})` : `local files (${ledger.location})`;

/** A target with hosts has a history per host: an export moves one history, so it is refused by name. */
function refuseHosts(
  what: "export" | "import",
  site: { target: string; hosts?: string[] | undefined },
): void {
  if (!site.hosts || site.hosts.length === 0) return;
  throw new KaupangError(
    "ERR_LEDGER_HOSTS",
    `ledger ${what}: target ${site.target} has hosts (${site.hosts.join(", ")}), each with a history of its own; ledger ${what} moves the history of a target without hosts`,
    {
      hint: "each host's history stays where the target keeps it; `kaupang history <env> --target <t>` reads them all",
    },
  );
}

/** Read and verify a history, with its units, into one export. */
export async function exportLedger(
  options: TransferOptions & { environment: string; out: string },
): Promise<{ export: LedgerExport; from: string }> {
  const site = await locateState(options);
  refuseHosts("export", site);
  const scope = { environment: options.environment, target: site.target };
  const ledger = ledgerAt(site, scope, { cache: false });
  const read = await ledger.read();
  if (read.records.length === 0)
    throw new KaupangError(
      "ERR_NOTHING_TO_EXPORT",
      `no records of ${scope.environment}@${scope.target} in ${describe(site, ledger)}`,
    );
  await ledger.verify(read, { deep: true });
  const units: Record<string, string> = {};
  for (const digest of new Set(read.records.flatMap((r) => (r.unit ? [r.unit] : []))))
    units[digest] = (await ledger.store.getUnit(digest))!;
  const exported: LedgerExport = {
    kind: "kaupang.ledger",
    version: 1,
    ...(site.project ? { project: site.project.config.project } : {}),
    ...scope,
    exportedAt: new Date().toISOString(),
    records: read.lines!,
    units,
  };
  await writeFileAtomic(options.out, `${JSON.stringify(exported)}\n`);
  return { export: exported, from: describe(site, ledger) };
}

/** Check an export on its own: the chain links, every hash, the sequence, and every unit against its digest. */
async function checkExport(file: string, exported: LedgerExport): Promise<void> {
  const units = new Map(Object.entries(exported.units));
  const inFile: StateStore = {
    scope: { environment: exported.environment, target: exported.target },
    location: file,
    lockLocation: file,
    anchorLocation: file,
    readRecords: async () => ({ lines: exported.records }),
    readTail: async () => ({}),
    readAnchor: async () => undefined,
    saveTorn: async () => file,
    append: async () => {},
    putUnit: async () => {},
    getUnit: async (digest) => units.get(digest),
    hasUnits: async (digests) => new Set(digests.filter((d) => sha256(units.get(d) ?? "") === d)),
    unitLocation: (digest) => `${file} (unit ${digest})`,
    createLock: async () => undefined,
    readLock: async () => undefined,
    replaceLock: async () => "",
    removeLock: async () => false,
  };
  await new Ledger(inFile).verify();
}

export interface ImportResult {
  environment: string;
  target: string;
  /** Where the records went. */
  to: string;
  /** Records appended now; records the destination already had. */
  imported: number;
  present: number;
}

/** Append an exported history to the ledger of its environment at the selected target (see the top of this file). */
export async function importLedger(options: TransferOptions & { file: string }): Promise<ImportResult> {
  let exported: LedgerExport;
  const text = await readFile(options.file, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new KaupangError(
      "ERR_LEDGER_IMPORT",
      `cannot read ${options.file}: ${error.code ?? error.message}`,
    );
  });
  try {
    const parsed = ExportSchema.safeParse(JSON.parse(text));
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new Error(`${issue.path.join(".") || "file"}: ${issue.message}`);
    }
    exported = parsed.data;
  } catch (error) {
    throw new KaupangError(
      "ERR_LEDGER_IMPORT",
      `${options.file}: not a ledger export (${(error as Error).message})`,
      { hint: "make one with: kaupang ledger export <env> -o <file>" },
    );
  }
  await checkExport(options.file, exported);
  const site = await locateState({ ...options, target: options.target ?? exported.target });
  refuseHosts("import", site);
  const scope = { environment: exported.environment, target: site.target };
  const ledger = ledgerAt(site, scope, { kaupangVersion: options.kaupangVersion });
  // The lock as any writer takes it (an open deploy is left as it is: the import compares records exactly).
  const lock = await acquireLock(ledger.store, {
    what: `${scope.environment}@${scope.target}`,
    timeoutMs: 5 * 60_000,
    command: "kaupang ledger import",
  });
  try {
    const have = (await ledger.read()).lines ?? [];
    const at = describe(site, ledger);
    // Compared where both have records: a destination that already holds the whole file takes nothing.
    const differs = exported.records.findIndex((line, i) => i < have.length && line !== have[i]);
    if (differs !== -1)
      throw new KaupangError(
        "ERR_LEDGER_DIVERGED",
        `${at} has record ${differs + 1} that ${options.file} does not (their histories differ from there); nothing was imported`,
        { hint: "import into an empty ledger, or one whose records are the file's first ones" },
      );
    const rest = exported.records.slice(have.length);
    const named = new Set(ledger.parse(rest).flatMap((r) => (r.unit ? [r.unit] : [])));
    for (const digest of named) await ledger.store.putUnit(digest, exported.units[digest]!);
    await ledger.appendLines(rest);
    await ledger.verify();
    return {
      ...scope,
      to: at,
      imported: rest.length,
      present: Math.min(have.length, exported.records.length),
    };
  } finally {
    await lock.release();
  }
}
