import type { Change, Deployment } from "@kaupang/core";

// Plain slices, no regular expressions: --list formats every record (10,000 in the benchmark).
const short = (digest: string | undefined) =>
  digest ? (digest.startsWith("sha256:") ? digest.slice(7, 19) : digest.slice(0, 12)) : "-";

/** "2026-06-11T14:00:00.123Z" → "2026-06-11 14:00:00Z". */
const when = (at: string) =>
  at.length === 24 && at[10] === "T" ? `${at.slice(0, 10)} ${at.slice(11, 19)}Z` : at;

/** "hedeby@2.3.1 a1b2c3d4e5f6 signed 0f1e2d3c4b5a": which bundle, its manifest digest, who signed it. */
const provenance = (r: Deployment) =>
  r.bundle
    ? `${r.bundle.solution} ${short(r.bundle.digest)}${r.bundle.signer ? ` signed ${short(r.bundle.signer)}` : " unsigned"}`
    : "-";

/**
 * What a record changed, compactly: "+web", "-worker", "web: env LOG_LEVEL, command".
 * "-" when nothing changed; empty for a record without a unit (a down).
 */
function changeSummary(changes: readonly Change[] | undefined): string {
  if (changes === undefined) return "";
  if (changes.length === 0) return "-";
  const parts: string[] = [];
  const byService = new Map<string, string[]>();
  for (const c of changes) {
    if (c.kind === "added") parts.push(`+${c.service}`);
    else if (c.kind === "removed") parts.push(`-${c.service}`);
    else {
      const what = c.kind === "env" ? `env ${c.key}` : c.kind;
      const list = byService.get(c.service) ?? [];
      if (!list.includes(what)) list.push(what);
      byService.set(c.service, list);
    }
  }
  for (const [service, what] of byService) parts.push(`${service}: ${what.join(", ")}`);
  return parts.join("; ");
}

/** The ledger as a table: newest last, like a log. With `changes` (one per record), what each changed. */
export function formatHistory(
  records: readonly Deployment[],
  options: { showEnvironment?: boolean; changes?: readonly (readonly Change[] | undefined)[] } = {},
): string {
  if (records.length === 0) return "No deployments recorded.\n";
  const bundles = records.some((r) => r.bundle);
  // A target with hosts: every host has its own records, and a HOST column says whose.
  const showHost = records.some((r) => r.host !== undefined);
  const rows = records.map((r, index) => [
    `  ${r.id}`,
    ...(options.showEnvironment ? [r.environment] : []),
    ...(showHost ? [r.host ?? "-"] : []),
    when(r.at),
    r.action +
      (r.rollbackOf ? ` → ${r.rollbackOf}` : "") +
      (r.trigger ? ` (after ${r.trigger} failed)` : "") +
      (r.source ? ` (${r.source})` : ""),
    (r.status === "started" ? "running" : r.status) +
      (r.failedStep ? ` (${r.failedStep})` : "") +
      (r.outcomeMissing ? " (no outcome recorded)" : ""),
    ...(bundles ? [provenance(r)] : []),
    r.images.map((i) => `${i.service}=${short(i.digest)}`).join(" ") || "-",
    ...(options.changes ? [changeSummary(options.changes[index])] : []),
  ]);
  const header = [
    "  ID",
    ...(options.showEnvironment ? ["ENVIRONMENT"] : []),
    ...(showHost ? ["HOST"] : []),
    "TIME",
    "ACTION",
    "STATUS",
    ...(bundles ? ["BUNDLE"] : []),
    "IMAGES",
    ...(options.changes ? ["CHANGES"] : []),
  ];
  const widths = header.map((h) => h.length);
  for (const row of rows)
    for (let i = 0; i < row.length; i++) widths[i] = Math.max(widths[i]!, row[i]!.length);
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return `${[line(header), ...rows.map(line)].join("\n")}\n`;
}
