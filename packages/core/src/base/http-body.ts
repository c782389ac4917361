import type { IncomingMessage } from "node:http";

/** A whole HTTP response: its status and its body, parsed as JSON when it is JSON, else the text. */
export function readResponse<T>(
  res: IncomingMessage,
  resolve: (response: { status: number; body: T }) => void,
  reject: (error: Error) => void,
): void {
  const chunks: Buffer[] = [];
  res.on("data", (chunk: Buffer) => chunks.push(chunk));
  res.on("error", reject);
  res.on("end", () => {
    const text = Buffer.concat(chunks).toString("utf8");
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (a plain-text error): keep the text
    }
    resolve({ status: res.statusCode ?? 0, body: parsed as T });
  });
}
