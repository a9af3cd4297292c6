"""The option lists agree, and the example configs are valid.

`wsgather --help` is the reference. Every option it lists must appear in
docs/cli.md's option table, in the man page's OPTIONS (docs/wsgather.1), and
in both shell completions (scripts/completions/wsgather.bash, _wsgather);
none of them may list an option --help lacks. The defaults --help shows and
the config keys must agree too. Every examples/*.json must pass
`wsgather -c FILE --check`, which connects nowhere.

Each failure names the option and the file it is missing from (or that
has one too many), all at once.
"""

import glob
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import REPO, IntegrationTest

CLI_MD = "docs/cli.md"
MAN_PAGE = "docs/wsgather.1"
BASH_COMPLETION = "scripts/completions/wsgather.bash"
ZSH_COMPLETION = "scripts/completions/_wsgather"

# An option name: -x or --long-name, not the middle of a word such as
# Sec-WebSocket-Key.
OPTION_RE = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
LONG_OPTION_RE = re.compile(r"(?<![\w-])--[A-Za-z][\w-]*")
# One option line of CLI11's help: names, then one space and the value's
# type ("FILE", "TEXT ...", "DUR=15s") or, for a flag, two or more spaces.
HELP_LINE_RE = re.compile(r"^  (?P<names>-[^\s]+)(?: (?P<type>[^\s]+)(?: \.\.\.)?)?(?:\s|$)")


def read(relative):
    with open(os.path.join(REPO, relative), encoding="utf-8") as f:
        return f.read()


def roff_text(line):
    """A roff line as it reads: fonts dropped, escapes resolved."""
    line = re.sub(r"\\f[BIRP]", "", line)
    line = re.sub(r"\\f\(\w\w|\\f\[\w*\]", "", line)
    for escape, text in (("\\-", "-"), ("\\(dq", '"'), ("\\(aq", "'"), ("\\e", "\\"), ("\\&", "")):
        line = line.replace(escape, text)
    return line


class Option:
    def __init__(self, names, value_type, default):
        self.names = names              # as --help writes them: ["-c", "--config"]
        self.value_type = value_type    # "FILE", "DUR", ...; None for a flag
        self.default = default          # what --help shows after "=", or None

    @property
    def long(self):
        return next(n for n in self.names if n.startswith("--"))


class Docs(IntegrationTest):

    def setUp(self):
        super().setUp()
        run = self.run_wsgather("--help", timeout=10)
        self.assertStatus(run, 0)
        self.help = run.stdout.decode("utf-8")
        self.options = self.help_options()
        self.by_name = {name: o for o in self.options for name in o.names}
        self.problems = []

    def help_options(self):
        options = []
        in_options = False
        for line in self.help.splitlines():
            if line == "Options:":
                in_options = True
            elif in_options and not line.strip():
                break
            elif in_options:
                m = HELP_LINE_RE.match(line)
                self.assertIsNotNone(m, f"cannot read this line of --help: {line!r}")
                value_type, default = m.group("type"), None
                if value_type and "=" in value_type:
                    value_type, default = value_type.split("=", 1)
                options.append(Option(m.group("names").split(","), value_type, default))
        self.assertGreater(len(options), 20, "found too few options in --help:\n" + self.help)
        return options

    def problem(self, text):
        self.problems.append(text)

    def check_names(self, listed, where, how_to_fix=""):
        """listed: every option name the file lists, short and long."""
        for o in self.options:
            for name in o.names:
                if name not in listed:
                    self.problem(f"{name} (from --help) is missing from {where}{how_to_fix}")
        for name in sorted(set(listed) - set(self.by_name)):
            self.problem(f"{where} lists {name}, which wsgather --help does not have")

    def assertNoProblems(self):
        if self.problems:
            self.fail(f"{len(self.problems)} problem(s):\n  " + "\n  ".join(self.problems))

    # -- docs/cli.md

    def cli_md_rows(self):
        """The option table's rows: (option names, config keys, default cell)."""
        text = read(CLI_MD)
        section = re.search(r"^## Options\n(.*?)^## ", text, re.S | re.M)
        self.assertIsNotNone(section, f"{CLI_MD}: no '## Options' section")
        rows = []
        for line in section.group(1).splitlines():
            if not line.startswith("|"):
                continue
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if len(cells) < 3 or cells[0] == "option" or set(cells[0]) <= set("-: "):
                continue
            names = OPTION_RE.findall(cells[0])
            keys = [k.split(":")[0].strip() for k in re.findall(r"`([^`]*)`", cells[1])]
            rows.append((names, keys, cells[2].replace("`", "")))
        return rows

    def cli_md_keys(self):
        """{long option: config key ('' for none)} from docs/cli.md's table."""
        keys = {}
        for names, row_keys, _ in self.cli_md_rows():
            longs = [n for n in names if n.startswith("--")]
            for i, name in enumerate(longs):
                if len(row_keys) == len(longs):
                    keys[name] = row_keys[i]
                else:
                    keys[name] = row_keys[0] if row_keys else ""
        return keys

    def test_cli_md_option_table(self):
        rows = self.cli_md_rows()
        self.check_names([n for names, _, _ in rows for n in names], f"{CLI_MD}'s option table")
        defaults = {n: default for names, _, default in rows for n in names}
        for o in self.options:
            if o.default is not None and o.long in defaults and o.default not in defaults[o.long]:
                self.problem(f"{CLI_MD}'s option table gives {o.long} the default {defaults[o.long]!r}; "
                             f"--help says {o.default}")
        self.assertNoProblems()

    # -- docs/wsgather.1

    def man_entries(self):
        """The OPTIONS section's .TP entries: [(names, body text, line number)]."""
        lines = read(MAN_PAGE).splitlines()
        try:
            start = lines.index(".SH OPTIONS")
        except ValueError:
            self.fail(f"{MAN_PAGE}: no '.SH OPTIONS' section")
        entries = []
        i = start + 1
        while i < len(lines) and not lines[i].startswith(".SH"):
            if lines[i] == ".TP" and i + 1 < len(lines):
                tag = roff_text(lines[i + 1])
                body = []
                i += 2
                while i < len(lines) and not re.match(r"\.(TP|SS|SH|PP)\b", lines[i]):
                    if not lines[i].startswith(".\\\""):
                        body.append(roff_text(lines[i]))
                    i += 1
                entries.append((OPTION_RE.findall(tag), " ".join(body), i))
            else:
                i += 1
        return entries

    def test_man_page_options(self):
        entries = self.man_entries()
        self.check_names([n for names, _, _ in entries for n in names], f"{MAN_PAGE} (a .TP entry in OPTIONS)")
        # Anywhere else on the page, a long option must be one of wsgather's.
        for number, line in enumerate(read(MAN_PAGE).splitlines(), 1):
            if line.startswith(".\\\""):
                continue
            for name in LONG_OPTION_RE.findall(roff_text(line)):
                if name not in self.by_name:
                    self.problem(f"{MAN_PAGE}:{number} mentions {name}, which wsgather --help does not have")
        # Each entry ends in "Default: X." when --help shows a default.
        for names, body, _ in entries:
            o = next((self.by_name[n] for n in names if n in self.by_name), None)
            if o is None or o.default is None:
                continue
            m = re.search(r"Default: (\S+?)\.?(?:\s|$)", body)
            if not m or m.group(1) != o.default:
                self.problem(f"{MAN_PAGE}: the entry for {o.long} should say 'Default: {o.default}.' "
                             f"as --help does; it says {m.group(0).strip() if m else 'no default'!r}")
        # The version in .TH is the binary's.
        version = self.run_wsgather("--version", timeout=10).stdout.decode().split()[-1]
        th = re.search(r'^\.TH .*"wsgather ([^"]+)"', read(MAN_PAGE), re.M)
        if not th or th.group(1) != version:
            self.problem(f"{MAN_PAGE}: .TH should name \"wsgather {version}\" (wsgather --version)")
        self.assertNoProblems()

    def test_config_keys_agree(self):
        """The man page gives each option the config key docs/cli.md gives it."""
        md_keys = self.cli_md_keys()
        for names, body, _ in self.man_entries():
            longs = [n for n in names if n.startswith("--")]
            if not longs or longs[0] not in md_keys:
                continue  # reported by the tests above
            m = re.search(r"Config key: (\S+)", body)
            man_key = m.group(1).rstrip(".,;") if m else None
            if man_key == "none":
                man_key = ""
            if man_key != md_keys[longs[0]]:
                self.problem(f"{MAN_PAGE}: the entry for {longs[0]} gives the config key {man_key!r}, "
                             f"{CLI_MD} gives {md_keys[longs[0]]!r}")
        self.assertNoProblems()

    # -- scripts/completions/wsgather.bash

    def bash_complete(self, *words):
        """COMPREPLY for `wsgather WORDS...`, the last word being completed, in self.tmp."""
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); '
                  '_wsgather; printf "%s\\n" "${COMPREPLY[@]}"')
        result = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash",
                                 os.path.join(REPO, BASH_COMPLETION), "wsgather", *words],
                                cwd=self.tmp, capture_output=True, text=True, timeout=10)
        self.assertEqual(result.returncode, 0, f"{BASH_COMPLETION}: bash failed:\n{result.stderr}")
        self.assertEqual(result.stderr, "", f"{BASH_COMPLETION}: bash wrote to stderr")
        return [w for w in result.stdout.splitlines() if w]

    def test_bash_completion(self):
        opts = re.search(r"\blocal opts='([^']*)'", read(BASH_COMPLETION))
        self.assertIsNotNone(opts, f"{BASH_COMPLETION}: no `local opts='...'` list")
        self.check_names(opts.group(1).split(), BASH_COMPLETION, " (add it to opts)")
        if shutil.which("bash") is None:
            self.assertNoProblems()
            self.skipTest("bash not installed: completions not run")

        offered = self.bash_complete("-")
        if sorted(offered) != sorted(opts.group(1).split()):
            self.problem(f"{BASH_COMPLETION}: 'wsgather -<TAB>' offers {offered}, not the opts list")
        with open(os.path.join(self.tmp, "probe-file.json"), "w"):
            pass
        fixed = {"--format": ["jsonl", "raw"], "--coalesce": ["auto"], "--proxy": ["direct"]}
        for o in self.options:
            if o.value_type is None:
                continue
            for name in o.names:
                if o.value_type == "FILE":
                    if "probe-file.json" not in self.bash_complete(name, "probe"):
                        self.problem(f"{BASH_COMPLETION}: '{name} probe<TAB>' does not complete file names")
                elif o.long in fixed:
                    got = self.bash_complete(name, "")
                    if sorted(got) != fixed[o.long]:
                        self.problem(f"{BASH_COMPLETION}: '{name} <TAB>' offers {got}, not {fixed[o.long]}")
                elif any(w.startswith("-") for w in self.bash_complete(name, "-")):
                    self.problem(f"{BASH_COMPLETION}: '{name} -<TAB>' offers options, but {name} takes a "
                                 f"value (add it to the case of options with values)")
        self.assertNoProblems()

    # -- scripts/completions/_wsgather

    def zsh_specs(self):
        """{option name: its _arguments spec line}."""
        specs = {}
        text = read(ZSH_COMPLETION)
        self.assertIn("_arguments", text, f"{ZSH_COMPLETION}: no _arguments call")
        for line in text.split("_arguments", 1)[1].splitlines():
            line = line.strip()
            if not line.startswith("'") or "[" not in line:
                continue  # a positional spec, or not a spec
            head = re.sub(r"\([^)]*\)", "", line.split("[", 1)[0])  # without exclusion lists
            for name in OPTION_RE.findall(head):
                specs[name] = line
        return specs

    def test_zsh_completion(self):
        specs = self.zsh_specs()
        self.check_names(list(specs), ZSH_COMPLETION, " (add an _arguments spec)")
        fixed = {"--format": "(jsonl raw)", "--coalesce": "(auto)", "--proxy": "(direct)"}
        for o in self.options:
            for name in o.names:
                spec = specs.get(name)
                if spec is None:
                    continue
                takes_value = re.search(r"\]:", spec) is not None
                if takes_value != (o.value_type is not None):
                    self.problem(f"{ZSH_COMPLETION}: the spec for {name} "
                                 f"{'takes a value' if takes_value else 'takes no value'}; --help disagrees")
                if o.value_type == "FILE" and ":_files" not in spec:
                    self.problem(f"{ZSH_COMPLETION}: the spec for {name} does not complete file names (_files)")
                if o.long in fixed and not spec.rstrip("' \\").endswith(fixed[o.long]):
                    self.problem(f"{ZSH_COMPLETION}: the spec for {name} should complete {fixed[o.long]}")
        if shutil.which("zsh"):
            result = subprocess.run(["zsh", "-n", os.path.join(REPO, ZSH_COMPLETION)],
                                    capture_output=True, text=True, timeout=10)
            if result.returncode != 0:
                self.problem(f"{ZSH_COMPLETION}: zsh -n fails: {result.stderr.strip()}")
        self.assertNoProblems()

    # -- examples/*.json

    def test_examples_pass_check(self):
        files = sorted(glob.glob(os.path.join(REPO, "examples", "*.json")))
        self.assertTrue(files, "no examples/*.json")
        for path in files:
            name = os.path.relpath(path, REPO)
            with open(path, encoding="utf-8") as f:
                first = f.readline()
            if not first.startswith("//"):
                self.problem(f"{name}: should open with a // comment saying what it subscribes to")
            run = self.run_wsgather("-c", path, "--check", timeout=10)
            if run.status != 0:
                self.problem(f"{name}: wsgather -c {name} --check exited {run.status}: {run.err_text.strip()}")
                continue
            try:
                checked = json.loads(run.stdout)
            except ValueError as e:
                self.problem(f"{name}: --check printed no JSON ({e})")
                continue
            if not checked.get("feeds"):
                self.problem(f"{name}: --check shows no feeds")
            if run.err_text:
                self.problem(f"{name}: --check wrote to stderr: {run.err_text.strip()}")
        self.assertNoProblems()


if __name__ == "__main__":
    unittest.main()
