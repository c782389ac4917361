const safe = /^[A-Za-z0-9_\-.,:/@%+=^]+$/;

/** Quote one argument for a POSIX shell, only when it needs it. */
function quoteArg(arg: string): string {
  if (arg !== "" && safe.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A command line as a user would type it (for display; execution always uses argv arrays). */
export function formatCommand(argv: readonly string[], env: Readonly<Record<string, string>> = {}): string {
  const prefix = Object.entries(env).map(([k, v]) => `${k}=${quoteArg(v)} `);
  return `${prefix.join("")}${argv.map(quoteArg).join(" ")}`;
}
