import { distance } from "fastest-levenshtein";

/** ` (did you mean "x"?)` for the closest candidate within a small edit distance, else "". */
export function didYouMean(input: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = input.toLowerCase();
  for (const candidate of candidates) {
    const d = distance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = Math.max(2, Math.floor(input.length / 3));
  return best !== undefined && bestDistance <= allowed ? ` (did you mean "${best}"?)` : "";
}
