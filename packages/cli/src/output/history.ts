import type { LedgerRecord } from "@kaupang/core";

// Plain slices, no regular expressions: --list formats every record (10,000 in the benchmark).
const short = (digest: string | undefined) =>
  digest ? (digest.startsWith("sha256:") ? digest.slice(7, 19) : digest.slice(0, 12)) : "-";

/** "2026-06-11T14:00:00.123Z" → "2026-06-11 14:00:00Z". */
const when = (at: string) =>
  at.length === 24 && at[10] === "T" ? `${at.slice(0, 10)} ${at.slice(11, 19)}Z` : at;

/** The ledger as a table: newest last, like a log. */
export function formatHistory(
  records: readonly LedgerRecord[],
  options: { showEnvironment?: boolean } = {},
): string {
  if (records.length === 0) return "No deployments recorded.\n";
  // A target with hosts: every host has its own records, and a HOST column says whose.
  const showHost = records.some((r) => r.host !== undefined);
  const rows = records.map((r) => [
    `  ${r.id}`,
    ...(options.showEnvironment ? [r.environment] : []),
    ...(showHost ? [r.host ?? "-"] : []),
    when(r.at),
    r.action + (r.rollbackOf ? ` → ${r.rollbackOf}` : "") + (r.source ? ` (${r.source})` : ""),
    r.status + (r.failedStep ? ` (${r.failedStep})` : ""),
    r.images.map((i) => `${i.service}=${short(i.digest)}`).join(" ") || "-",
  ]);
  const header = [
    "  ID",
    ...(options.showEnvironment ? ["ENVIRONMENT"] : []),
    ...(showHost ? ["HOST"] : []),
    "TIME",
    "ACTION",
    "STATUS",
    "IMAGES",
  ];
  const widths = header.map((h) => h.length);
  for (const row of rows)
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i]!, row[i]!.length);
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
