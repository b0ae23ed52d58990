import { COMMANDS, type FlagSpec } from "./commands.ts";

/** Shell completion scripts, generated from the command table so they list what the parser takes. */
export function completionScript(shell: "bash" | "zsh"): string {
  return shell === "bash" ? bashScript() : zshScript();
}

const names = COMMANDS.map((c) => c.name).join(" ");
const flagWords = (flags: readonly FlagSpec[]) => flags.map((f) => `--${f.name}`).join(" ");

function bashScript(): string {
  const flagCases = COMMANDS.map(
    (c) => `    ${c.name}) flags="${flagWords(c.flags)}"; args="${(c.positionalChoices ?? []).join(" ")}" ;;`,
  );
  const valueCases = COMMANDS.flatMap((c) => c.flags)
    .filter((f, i, all) => all.findIndex((g) => g.name === f.name) === i)
    .filter((f) => f.choices || f.file)
    .map((f) =>
      f.choices
        ? `    --${f.name}) COMPREPLY=($(compgen -W "${f.choices.join(" ")}" -- "$cur")); return ;;`
        : `    --${f.name}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`,
    );
  return `# mina-auth bash completion: source <(mina-auth completion bash)
_mina_auth() {
  local cur prev cmd flags args
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W "${names} --help --version" -- "$cur"))
    return
  fi
  case "$prev" in
${valueCases.join("\n")}
  esac
  cmd="\${COMP_WORDS[1]}"
  case "$cmd" in
${flagCases.join("\n")}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [ -n "$args" ] && [ "$COMP_CWORD" -eq 2 ]; then
    COMPREPLY=($(compgen -W "$args" -- "$cur"))
  elif [ "$cmd" = import ]; then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _mina_auth mina-auth
`;
}

function zshFlag(flag: FlagSpec): string {
  const help = flag.help.replace(/[[\]':]/g, "").split(" (")[0];
  if (flag.name === "help") return "'(-h --help)'{-h,--help}'[this help]'";
  if (flag.type === "boolean") return `'--${flag.name}[${help}]'`;
  const action = flag.choices ? `(${flag.choices.join(" ")})` : flag.file ? "_files" : " ";
  return `'--${flag.name}=[${help}]:${(flag.value ?? "value").toLowerCase()}:${action}'`;
}

function zshScript(): string {
  const commandList = COMMANDS.map((c) => `    '${c.name}:${c.summary.replace(/'/g, "")}'`);
  const cases = COMMANDS.map((c) => {
    const positional = c.positionalChoices
      ? ` '1:${c.name === "completion" ? "shell" : "action"}:(${c.positionalChoices.join(" ")})'`
      : c.name === "import"
        ? " '1:seed file:_files'"
        : "";
    return `    ${c.name}) _arguments ${c.flags.map(zshFlag).join(" ")}${positional} ;;`;
  });
  return `#compdef mina-auth
# mina-auth zsh completion: mina-auth completion zsh > ~/.zfunc/_mina-auth (fpath+=(~/.zfunc) before compinit)
_mina_auth() {
  local -a commands
  commands=(
${commandList.join("\n")}
  )
  if (( CURRENT == 2 )); then
    _describe 'command' commands
    return
  fi
  local cmd="\${words[2]}"
  shift words
  (( CURRENT-- ))
  case "$cmd" in
${cases.join("\n")}
  esac
}
_mina_auth "$@"
`;
}
