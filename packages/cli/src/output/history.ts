import type { LedgerRecord } from "@kaupang/core";

const short = (digest: string | undefined) => (digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "-");

/** The ledger as a table: newest last, like a log. */
export function formatHistory(
  records: readonly LedgerRecord[],
  options: { showEnvironment?: boolean } = {},
): string {
  if (records.length === 0) return "No deployments recorded.\n";
  const rows = records.map((r) => [
    `  ${r.id}`,
    ...(options.showEnvironment ? [r.environment] : []),
    r.at.replace("T", " ").replace(/\.\d+Z$/, "Z"),
    r.action + (r.rollbackOf ? ` → ${r.rollbackOf}` : "") + (r.source ? ` (${r.source})` : ""),
    r.status + (r.failedStep ? ` (${r.failedStep})` : ""),
    r.images.map((i) => `${i.service}=${short(i.digest)}`).join(" ") || "-",
  ]);
  const header = [
    "  ID",
    ...(options.showEnvironment ? ["ENVIRONMENT"] : []),
    "TIME",
    "ACTION",
    "STATUS",
    "IMAGES",
  ];
  const widths = header.map((h) => h.length);
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i]!, cell.length);
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
