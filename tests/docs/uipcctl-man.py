#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# uipcctl(8) against the program: every command and option uipcctl --help
# lists, and every JSON key each command prints to a real supervisor running
# the example modules, must be documented; each gap is named.
"""usage: uipcctl-man.py UIPCCTL SUPERVISOR EXAMPLE_CONF MAN_PAGE

The rule (what "documented" means):
  command  its name is bold in SYNOPSIS, and a .TP entry of COMMANDS has
           it as its tag's first word;
  option   its long form is bold in SYNOPSIS, and a .TP tag of OPTIONS
           holds its short and long forms;
  JSON     a key printed by command C at path P (objects nested in objects,
           arrays looked through) has a .TP entry at P, nested by .RS/.RE
           as the JSON nests, in a .SS of JSON OUTPUT whose title names C
           or is "All commands".  An entry whose text begins "A map" is an
           object whose keys are data: they are not checked, but the keys
           of its values are, as entries nested in it.
Exit status 0, 1 with the gaps on stderr, 77 when not root (the supervisor
runs modules as users of their own)."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

MODULE = "echo"           # NAME for the commands that take one
NO_MODULE = "no-such-module"  # NAME again: the refusal's JSON
# What a command needs done first to succeed on the settled example
PREPARE = {"start": ["stop", MODULE]}  # start refuses a running module
RUN_TIMEOUT_S = 30        # a command still running then is stopped and its
                          # lines read (one that watches until stopped)


# ---- roff, as much of it as the page uses ----

ESCAPES = [(r"\(dq", '"'), (r"\(aq", "'"), (r"\(->", "->"), (r"\(em", "-"),
           (r"\-", "-"), (r"\%", ""), (r"\&", ""), (r"\c", ""), (r"\~", " "),
           (r"\ ", " "), (r"\e", "\\")]


def plain(text):
    """text without fonts and escapes."""
    text = re.sub(r"\\f[BIRP]", "", text)
    for esc, char in ESCAPES:
        text = text.replace(esc, char)
    return text


def macro_args(rest):
    """A macro line's arguments, "quoted" ones whole."""
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', rest)]


def bold_words(line):
    """The words set in bold on one line."""
    words = []
    m = re.match(r"\.(B|BR|RB|BI|IB)\s*(.*)", line)
    if m:
        macro, args = m.group(1), macro_args(m.group(2))
        for i, arg in enumerate(args):
            if macro == "B" or (macro[i % 2] == "B"):
                words += plain(arg).split()
    for piece in re.findall(r"\\fB(.*?)(?=\\f[RIP]|$)", line):
        words += plain(piece).split()
    return words


def sections(lines, macro):
    """{title: lines} for each .SH or .SS."""
    out, title = {}, None
    for line in lines:
        if line.startswith(macro + " "):
            title = plain(" ".join(macro_args(line[len(macro) + 1:])))
            out[title] = []
        elif title is not None:
            out[title].append(line)
    return out


def entries(lines):
    """The .TP entries as {path: text}, paths nested by .RS/.RE under the
    entry just before.  A tag's bold words are its keys."""
    found, stack, last, i = {}, [()], None, 0
    while i < len(lines):
        line = lines[i]
        if line.startswith(".TP") and i + 1 < len(lines):
            keys = [w.strip(",") for w in bold_words(lines[i + 1])] or plain(lines[i + 1]).split()[:1]
            paths = [stack[-1] + (k,) for k in keys if k]
            for p in paths:
                found[p] = ""
            last = paths
            i += 2
            continue
        if line.startswith(".RS"):
            stack.append(last[0] if last and len(last) == 1 else stack[-1])
            last = None
        elif line.startswith(".RE"):
            stack.pop() if len(stack) > 1 else None
            last = None
        elif line.startswith((".PP", ".SS", ".nf")):
            last = None
        elif last and not line.startswith(".\\\""):
            for p in last:
                found[p] += (" " if found[p] else "") + plain(" ".join(macro_args(line[line.find(" ") + 1:]))
                                                             if line.startswith(".") else line)
        i += 1
    return found


# ---- the program ----

def help_text(uipcctl):
    """(commands as (name, operands), options as [short, long]) from --help."""
    out = subprocess.run([uipcctl, "--help"], capture_output=True, text=True, check=True).stdout
    commands, options, part = [], [], None
    for line in out.splitlines():
        if line in ("commands:", "options:"):
            part = line
        elif part == "commands:" and re.match(r"  \S", line):
            words = re.split(r"\s{2,}", line[2:])[0].split()
            commands.append((words[0], words[1:]))
        elif part == "options:":
            m = re.match(r"\s+(?:(-\w), )?\s*(--[\w-]+)", line)
            if m:
                options.append([o for o in m.groups() if o])
    return commands, options


def operand_args(operands, name):
    """What to pass for a command's operands: a module for NAME, the first
    of a|b|c; optional ones ([...]) left out."""
    args = []
    for word in re.sub(r"\[[^]]*\]", " ", " ".join(operands)).split():
        if word == "NAME":
            args.append(name)
        elif "|" in word:
            args.append(word.split("|")[0])
        else:
            raise SystemExit(f"uipcctl-man.py: what to pass for {word}? (teach operand_args)")
    return args


def example_conf(path, scratch):
    """The example config with absolute paths and a socket in scratch."""
    base = os.path.dirname(os.path.abspath(path))
    text = []
    for line in open(path):
        m = re.match(r"(exec|policy)\s*=\s*(\S+)\s*$", line)
        if m:
            line = f"{m.group(1)} = {os.path.normpath(os.path.join(base, m.group(2)))}\n"
        elif line.startswith("control_socket"):
            line = f"control_socket = {scratch}/control.sock\n"
        text.append(line)
    conf = os.path.join(scratch, "modules.conf")
    open(conf, "w").write("".join(text))
    return conf


class Supervisor:
    """uipc-supervisor on the example, its log in scratch."""

    def __init__(self, exe, conf, scratch, uipcctl):
        self.uipcctl, self.sock = uipcctl, os.path.join(scratch, "control.sock")
        self.log = os.path.join(scratch, "supervisor.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([exe, "--config", conf], stdout=log, stderr=subprocess.STDOUT)
        self.settle()

    def ctl(self, *args):
        return subprocess.run([self.uipcctl, "--socket", self.sock, "--json", *args],
                              capture_output=True, text=True, timeout=RUN_TIMEOUT_S)

    def settle(self, stopped=()):
        """Until the servers are ready and the client is done (a reexec is
        refused while a module starts or is reaped), and the modules named
        in stopped are stopped (a stop returns before it is done): up to
        1500 looks."""
        for _ in range(1500):
            r = self.ctl("status") if self.proc.poll() is None else None
            if r and r.returncode == 0:
                states = {m["name"]: m["state"] for m in json.loads(r.stdout)["modules"]}
                if all(s in ("ready", "stopped") for s in states.values()) and \
                        all(states.get(n) == "stopped" for n in stopped):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        raise SystemExit("uipcctl-man.py: the example did not settle:\n" + open(self.log).read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def json_lines(out):
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def run_command(sv, name, args, refusal):
    """The JSON objects uipcctl --json NAME ARGS printed; a failure (or,
    for refusal, a success) ends the test."""
    argv = [name, *args]
    try:
        r = sv.ctl(*argv)
        out, code, err = r.stdout, r.returncode, r.stderr
    except subprocess.TimeoutExpired as e:  # it watches: what it printed will do
        out, code, err = (e.stdout or b"").decode(errors="replace"), 0, ""
        out = out[:out.rfind("\n") + 1]
    if code == 2 and "not JSON (no --json)" in err:  # a command that prints another format
        return []
    if (code != 0) != refusal or not out.strip():
        sv.stop()
        raise SystemExit(f"uipcctl-man.py: uipcctl --json {' '.join(argv)}: exit {code}\n"
                         f"stdout: {out}stderr: {err}")
    return json_lines(out)


def key_paths(value, path, maps, out):
    """Every key path in value into out; a map's own keys skipped."""
    if isinstance(value, list):
        for v in value:
            key_paths(v, path, maps, out)
    elif isinstance(value, dict):
        for k, v in value.items():
            p = path + (k,)
            if p in maps and isinstance(v, dict):
                out.add(p)
                for inner in v.values():
                    key_paths(inner, p, maps, out)
            else:
                out.add(p)
                key_paths(v, p, maps, out)


# ---- the check ----

def main():
    if len(sys.argv) != 5:
        raise SystemExit(__doc__)
    uipcctl, supervisor, conf, man = sys.argv[1:]
    lines = open(man).read().splitlines()
    page = sections(lines, ".SH")
    synopsis = {w for line in page.get("SYNOPSIS", []) for w in bold_words(line)}
    cmd_entries = {p[0] for p in entries(page.get("COMMANDS", []))}
    opt_entries = {p[0] for p in entries(page.get("OPTIONS", []))}
    json_doc = {title: entries(body) for title, body in sections(page.get("JSON OUTPUT", []), ".SS").items()}
    commands, options = help_text(uipcctl)
    missing = []

    for name, _ in commands:
        if name not in synopsis:
            missing.append(f"command {name}: not in SYNOPSIS")
        if name not in cmd_entries:
            missing.append(f"command {name}: no entry of its own in COMMANDS")
    for forms in options:
        if forms[-1] not in synopsis:
            missing.append(f"option {forms[-1]}: not in SYNOPSIS")
        for form in forms:
            if form not in opt_entries:
                missing.append(f"option {form}: not in an entry of OPTIONS")

    if os.geteuid() != 0:
        print("not root: the supervisor cannot run the example; JSON keys not checked (skipped)")
        for m in missing:
            print(f"uipcctl(8): {m}", file=sys.stderr)
        sys.exit(1 if missing else 77)

    with tempfile.TemporaryDirectory(prefix="uipcctl-man.") as scratch:
        os.chmod(scratch, 0o755)
        example = example_conf(conf, scratch)
        for name, operands in commands:
            doc = {}
            for title, found in json_doc.items():
                if title == "All commands" or name in re.split(r"[\s,]+", title):
                    doc.update(found)
            maps = {p for p, text in doc.items() if text.startswith("A map")}
            printed = set()
            sv = Supervisor(supervisor, example, scratch, uipcctl)
            if name in PREPARE:
                run_command(sv, PREPARE[name][0], PREPARE[name][1:], False)
                sv.settle(stopped=(MODULE,))
            for obj in run_command(sv, name, operand_args(operands, MODULE), False):
                key_paths(obj, (), maps, printed)
            if "NAME" in operands:
                for obj in run_command(sv, name, operand_args(operands, NO_MODULE), True):
                    key_paths(obj, (), maps, printed)
            sv.stop()
            for p in sorted(printed):  # under an undocumented key: named with it
                if p not in doc and (len(p) == 1 or p[:-1] in doc):
                    missing.append(f"{name} --json: key {'.'.join(p)} has no entry in JSON OUTPUT")

    for m in missing:
        print(f"uipcctl(8): {m}", file=sys.stderr)
    print(f"{len(commands)} commands, {len(options)} options checked; {len(missing)} gaps")
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
