import { COMMANDS, type CommandSpec } from "./commands.ts";

export function globalHelp(version: string): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `mina-auth ${version} — Feishu / Lark mini-program login server

Usage: mina-auth COMMAND [flags]

Commands:
${lines.join("\n")}

  mina-auth COMMAND --help   that command's flags and examples
  mina-auth --version        the version

Start here: mina-auth serve --demo   (demo data, a ready-to-paste walk-through)
`;
}

export function commandHelp(spec: CommandSpec): string {
  const flags = spec.flags.map((f) => ({
    left: f.name === "help" ? "-h, --help" : `--${f.name}${f.value ? ` ${f.value}` : ""}`,
    help: f.help,
  }));
  const width = Math.max(...flags.map((f) => f.left.length));
  return `mina-auth ${spec.name} — ${spec.summary}

Usage: mina-auth ${spec.name} ${spec.synopsis}

Flags:
${flags.map((f) => `  ${f.left.padEnd(width)}  ${f.help}`).join("\n")}
${spec.notes ? `\n${spec.notes}\n` : ""}
Examples:
${spec.examples.map((e) => `  ${e}`).join("\n")}
`;
}
