/**
 * Compose's variable interpolation syntax, parsed into parts: `$$` is a
 * literal `$`; `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:?error}` and `${VAR?error}` name a variable. The alternate forms
 * (`${VAR:+x}`, `${VAR+x}`) and nested expressions are reported as not
 * parseable: the caller keeps the value compose resolved instead.
 */
import type { InterpolationPart } from "./source.js";

type Parsed = { parts: InterpolationPart[]; required: string[] } | { unsupported: string };

const name = /^[A-Za-z_][A-Za-z0-9_]*/;

export function parseInterpolation(text: string): Parsed {
  const parts: InterpolationPart[] = [];
  const required: string[] = [];
  let literal = "";
  let i = 0;
  const flush = () => {
    if (literal !== "") parts.push(literal);
    literal = "";
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c !== "$") {
      literal += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === "$") {
      literal += "$";
      i += 2;
      continue;
    }
    if (next === "{") {
      const close = text.indexOf("}", i + 2);
      if (close === -1) return { unsupported: text.slice(i) };
      const body = text.slice(i + 2, close);
      if (body.includes("$") || body.includes("{")) return { unsupported: text.slice(i, close + 1) };
      const variable = name.exec(body)?.[0];
      if (!variable) return { unsupported: text.slice(i, close + 1) };
      const rest = body.slice(variable.length);
      flush();
      if (rest === "") parts.push({ variable });
      else if (rest.startsWith(":-") || rest.startsWith("-")) {
        const whenEmpty = rest.startsWith(":");
        parts.push({ variable, fallback: { value: rest.slice(whenEmpty ? 2 : 1), whenEmpty } });
      } else if (rest.startsWith(":?") || rest.startsWith("?")) {
        parts.push({ variable });
        required.push(variable);
      } else return { unsupported: text.slice(i, close + 1) };
      i = close + 1;
      continue;
    }
    const variable = name.exec(text.slice(i + 1))?.[0];
    if (variable) {
      flush();
      parts.push({ variable });
      i += 1 + variable.length;
      continue;
    }
    literal += "$";
    i++;
  }
  flush();
  return { parts, required };
}
