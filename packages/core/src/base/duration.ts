const pattern = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

export function isDuration(value: string): boolean {
  return pattern.test(value);
}

/** "500ms" | "2s" | "2m" | "1h" → milliseconds. Throws on anything else (validated earlier). */
export function parseDuration(value: string): number {
  const match = pattern.exec(value);
  if (!match) throw new Error(`not a duration: ${value}`);
  return Math.round(Number(match[1]) * unitMs[match[2] as keyof typeof unitMs]);
}

/** Milliseconds → a compose/docker duration string ("1m30s", "500ms"). */
export function formatDockerDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  const seconds = ms / 1000;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h ? `${h}h` : ""}${m ? `${m}m` : ""}${s || (!h && !m) ? `${s}s` : ""}`;
}
