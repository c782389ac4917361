/** Where presets and solution recipes come from. Earlier sources win per name. */
export interface CatalogSource {
  /** How errors and `--debug` name this source: a path, URL or OCI ref. */
  readonly label: string;
  /** Fetch and return the raw manifest (validated by the caller). */
  load(): Promise<unknown>;
}
