/** `users[1].email: …` → ["users", 1, "email"]; null when the message names no field. */
export function fieldPath(msg: string): Array<string | number> | null {
  // The server's msg reads "invalid request: users[1].email must be …".
  const match = /\b([a-z_]+\[\d+\](?:\.[a-z_]+(?:\[\d+\])?)*)/.exec(msg);
  if (!match?.[1]) return null;
  const parts: Array<string | number> = [];
  for (const piece of match[1].split(".")) {
    const [, name, index] = /^([a-z_]+)(?:\[(\d+)\])?$/.exec(piece) ?? [];
    if (name) parts.push(name);
    if (index !== undefined) parts.push(Number(index));
  }
  // "users[1]: unknown tenant_key …" names its field after the colon.
  const named = /\]: unknown ([a-z_]+)/.exec(msg)?.[1];
  if (named && typeof parts[parts.length - 1] === "number") parts.push(named);
  return parts;
}
