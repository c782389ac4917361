/**
 * `http` (a static manifest) and `service` (a running catalog service) sources:
 * one GET answered with JSON `{ services?, solutions? }`, with optional headers
 * (e.g. Authorization), a timeout, and the URL in every error.
 */
import { errorMessage, KaupangError } from "../../base/errors.js";
import type { CatalogSource } from "./source.js";

const catalogTimeoutMs = 15_000;

/** A URL safe to print: credentials in it are masked. */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = u.username ? "***" : "";
      u.password = u.password ? "***" : "";
    }
    return u.toString();
  } catch {
    return url;
  }
}

export function httpSource(
  kind: "http" | "service",
  url: string,
  headers: Record<string, string> = {},
): CatalogSource {
  const label = `${kind} ${redactUrl(url)}`;
  return {
    label,
    async load() {
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { Accept: "application/json", ...headers },
          signal: AbortSignal.timeout(catalogTimeoutMs),
        });
      } catch (error) {
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        const why =
          (error as Error).name === "TimeoutError"
            ? `no answer within ${catalogTimeoutMs / 1000}s`
            : (cause?.code ?? cause?.message ?? errorMessage(error));
        throw new KaupangError("ERR_CATALOG_UNREACHABLE", `catalog ${label} is unreachable (${why})`, {
          hint: "check the URL and network, or mark the source optional: true",
        });
      }
      if (!response.ok) {
        throw new KaupangError(
          "ERR_CATALOG_UNREACHABLE",
          `catalog ${label} answered HTTP ${response.status}`,
          {
            hint:
              response.status === 401 || response.status === 403
                ? "set credentials in the source's headers"
                : "check the URL",
          },
        );
      }
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch {
        throw new KaupangError("ERR_CATALOG_INVALID", `catalog ${label} did not answer JSON`);
      }
    },
  };
}
