import { parseArgs } from "node:util";
import { ConfigError } from "../config.ts";
import type { CommandSpec } from "./commands.ts";

export interface Parsed {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses a command's arguments against its spec. parseArgs runs in its lenient mode and the
 * checks are ours, so that each refusal names the flag and the command in plain words rather
 * than in parseArgs' own text.
 */
export function parseCommand(spec: CommandSpec, args: string[]): Parsed {
  const options = Object.fromEntries(spec.flags.map((f) => [f.name, { type: f.type }]));
  const { tokens } = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true });
  const flags: Parsed["flags"] = {};
  const positionals: string[] = [];
  const helpHint = `mina-auth ${spec.name} --help lists them`;
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const flag = spec.flags.find((f) => f.name === token.name || (f.name === "help" && token.name === "h"));
    if (!flag) {
      throw new ConfigError(`${spec.name} has no flag ${token.rawName} (${helpHint})`);
    }
    if (flag.type === "boolean") {
      if (token.value !== undefined) throw new ConfigError(`${token.rawName} takes no value`);
      flags[flag.name] = true;
      continue;
    }
    // `--db --seed x`: lenient parseArgs takes the next flag as the value; that is never meant.
    const missing =
      token.value === undefined || token.value === "" || (!token.inlineValue && token.value.startsWith("--"));
    if (missing) {
      throw new ConfigError(`--${flag.name} needs a value: --${flag.name} ${flag.value ?? "VALUE"}`);
    }
    if (flag.choices && !flag.choices.includes(token.value)) {
      throw new ConfigError(`--${flag.name} must be one of ${flag.choices.join(", ")} (got ${token.value})`);
    }
    flags[flag.name] = token.value;
  }
  if (flags.help) return { flags, positionals };
  const [min, max] = spec.positionals;
  if (positionals.length > max) {
    throw new ConfigError(
      `${spec.name} takes ${max === 0 ? "no arguments" : `${max} argument${max === 1 ? "" : "s"}`}, got ${positionals.join(" ")} (${helpHint})`,
    );
  }
  if (positionals.length < min) {
    throw new ConfigError(
      `${spec.name} needs ${spec.synopsis.split(" ")[0]} (mina-auth ${spec.name} --help)`,
    );
  }
  if (spec.positionalChoices && !spec.positionalChoices.includes(positionals[0]!)) {
    throw new ConfigError(
      `${spec.name} takes ${spec.positionalChoices.join(" or ")}, not ${positionals[0]} (mina-auth ${spec.name} --help)`,
    );
  }
  return { flags, positionals };
}
