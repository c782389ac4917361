import type { ServiceUrl } from "@kaupang/core";

/** Where each deployed environment answers, one line per URL (nothing when there is none). */
export function formatUrls(
  deployments: readonly { environment: string; urls: readonly ServiceUrl[] }[],
): string {
  return deployments
    .flatMap((d) => d.urls.map((u) => `${d.environment}: ${u.service} → ${u.url}\n`))
    .join("");
}
