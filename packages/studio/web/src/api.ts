/**
 * The page's one way to the studio server. Types come from the server's API
 * types (type-only), so both sides agree at compile time; every call carries
 * the run's token from the page's own address.
 */
import type {
  CatalogResponse,
  ExportRequest,
  ExportResponse,
  ImportRequest,
  ImportResponse,
  PlanRequest,
  PlanResponse,
  SaveRequest,
  SaveResponse,
  SessionResponse,
} from "../../src/server/api-types.js";

export type * from "../../src/server/api-types.js";

const token = new URLSearchParams(window.location.search).get("token") ?? "";

/** An answer other than 200: `status` 403 means the page was opened without its token. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${path}?token=${encodeURIComponent(token)}`, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const answer = (await response.json().catch(() => ({ error: `HTTP ${response.status}` }))) as T & {
    error?: string;
  };
  if (!response.ok) throw new ApiError(answer.error ?? `HTTP ${response.status}`, response.status);
  return answer;
}

export const api = {
  session: () => call<SessionResponse>("GET", "/api/session"),
  catalog: () => call<CatalogResponse>("GET", "/api/catalog"),
  reloadCatalog: () => call<CatalogResponse>("POST", "/api/catalog/reload"),
  plan: (request: PlanRequest) => call<PlanResponse>("POST", "/api/plan", request),
  exportFile: (request: ExportRequest) => call<ExportResponse>("POST", "/api/export", request),
  save: (request: SaveRequest) => call<SaveResponse>("POST", "/api/save", request),
  importEnvironment: (request: ImportRequest) => call<ImportResponse>("POST", "/api/import", request),
};
