/**
 * The `mina-auth` CLI as a user runs it (a child process): --help, --version and the shell
 * completion scripts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { assertRefused, cli, scratchDir } from "./cli-suite.ts";

const dir = scratchDir();

describe("help, version and completion", () => {
  it("--help lists the commands; each command's --help shows its own flags and examples", async () => {
    const run = await cli(["--help"]);
    assert.equal(run.code, 0);
    for (const command of ["serve", "import", "export", "code", "migrate", "admin-token", "completion"])
      assert.match(run.stdout, new RegExp(`^  ${command} `, "m"));
    const pages = new Map<string, string>();
    for (const command of ["serve", "code", "import"]) {
      const help = await cli([command, "--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, new RegExp(`^Usage: mina-auth ${command} `, "m"));
      assert.match(help.stdout, new RegExp(`^Examples:\n  mina-auth ${command} `, "m"));
      pages.set(command, help.stdout);
    }
    assert.equal(new Set(pages.values()).size, 3, "three different pages");
    assert.match(pages.get("serve")!, /--log-level LEVEL/);
    assert.match(pages.get("serve")!, /--seed-mode MODE/);
    assert.match(pages.get("code")!, /--tenant TENANT_KEY/);
    assert.doesNotMatch(pages.get("code")!, /--seed/);
    assert.equal((await cli(["help", "code"])).stdout, pages.get("code"));
    assert.equal((await cli(["code", "-h"])).stdout, pages.get("code"));
  });

  it("no command prints the overview on stderr and exits 2", async () => {
    const run = await cli([]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /Usage: mina-auth COMMAND/);
  });

  it("--version prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    for (const flag of ["--version", "-v"]) {
      const run = await cli([flag]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `${version}\n`);
    }
  });

  it("completion bash and zsh print scripts the shells accept, naming every command", async () => {
    for (const shell of ["bash", "zsh"]) {
      const run = await cli(["completion", shell]);
      assert.equal(run.code, 0, run.stderr);
      for (const word of ["serve", "admin-token", "--seed-mode", "--tenant", "upsert"])
        assert.ok(run.stdout.includes(word), `${shell}: ${word}`);
      const file = join(dir(), `completion.${shell}`);
      writeFileSync(file, run.stdout);
      const check = spawnSync(shell, ["-n", file], { encoding: "utf8" });
      if (check.error && (check.error as NodeJS.ErrnoException).code === "ENOENT") continue; // zsh may be absent
      assert.equal(check.status, 0, `${shell} -n: ${check.stderr}`);
    }
    // bash: the function completes a command's flags and a flag's values.
    const script = join(dir(), "completion.bash");
    const complete = (words: string) =>
      spawnSync(
        "bash",
        [
          "-c",
          `source ${script}; COMP_WORDS=(${words}); COMP_CWORD=$((\${#COMP_WORDS[@]}-1)); _mina_auth; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: "utf8" },
      ).stdout.trim();
    assert.equal(complete("mina-auth mig"), "migrate");
    assert.equal(complete("mina-auth serve --seed-m"), "--seed-mode");
    assert.equal(complete("mina-auth serve --seed-mode u"), "upsert");
    assert.equal(complete("mina-auth code --te"), "--tenant");
    assert.equal(complete("mina-auth completion z"), "zsh");
    assertRefused(await cli(["completion", "fish"]), /completion takes bash or zsh, not fish/);
  });
});
