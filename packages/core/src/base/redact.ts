/**
 * Secret values never leave kaupang in anything it stores or prints. Every
 * secret() value a run reads is registered here (with its base64 form); the process layer masks
 * them in children's output (lines streamed and output kept), and the ledger
 * and the CLI mask them again in what they write. A value shorter than
 * `minLength` cannot be masked without mangling ordinary text, so it is not
 * (`checkSecrets` warns about it).
 */
const values = new Set<string>();
let pattern: RegExp | undefined;

const mask = "***";
const minSecretLength = 3;

/** Mask these values (and each line of a multi-line value) from now on. */
export function addSecretValues(secrets: Iterable<string>): void {
  const before = values.size;
  for (const value of secrets) {
    // Its base64 form too: that is how a Kubernetes Secret prints it.
    const encoded = Buffer.from(value, "utf8").toString("base64");
    for (const part of [value, encoded, ...value.split(/\r?\n/)]) {
      const trimmed = part.trim();
      if (trimmed.length >= minSecretLength) values.add(trimmed);
    }
  }
  if (values.size === before) return;
  // Longest first, so a value containing another is masked whole.
  const sorted = [...values].sort((a, b) => b.length - a.length);
  pattern = new RegExp(sorted.map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "g");
}

/** `text` with every registered secret value replaced by ***. */
export function redact(text: string): string {
  if (!pattern || text.length < minSecretLength) return text;
  pattern.lastIndex = 0;
  return text.replace(pattern, mask);
}

/** Forget every registered value (tests). */
export function clearSecretValues(): void {
  values.clear();
  pattern = undefined;
}
