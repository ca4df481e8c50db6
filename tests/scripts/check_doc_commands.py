#!/usr/bin/env python3
"""Runs every `plexus ...` command line that the documentation shows, so the
docs cannot drift from the program (issue 18 item 9).

Sources, in this order (later commands may use files earlier ones wrote, as a
reader following the docs would): docs/cli.md, the other docs/*.md, README.md,
then the `--help` texts of `plexus` and of each command. A command line is a
line of a code block (indented by 4 spaces or fenced) that starts with
`plexus ` (backslash continuations joined, `# comments` dropped); `echo ... >`,
`mkdir DIR` and `python3 examples/SCRIPT.py ...` lines (the repo's scripts that
write example data) of the same block run too, as the setup they are. Synopsis lines, which
hold placeholders (`FILE`, `MODEL.json`), brackets or alternatives, are not
commands and are listed as such.

Each command runs with short settings: at most 1 epoch (2 trials, 2 folds), and
`--limit 300` when it reads Fashion-MNIST. It must exit with 0. Commands that
read Fashion-MNIST are skipped when the data set is not installed.

Usage: check_doc_commands.py --plexus PATH --root REPO [--keep DIR]
Exit codes: 0 all ran, 1 one failed, 77 nothing could run.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FASHION = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"
# An upper-case placeholder word: FILE, DIR, N, MODEL.json, SPACE.json, IMAGES, A,B
PLACEHOLDER = re.compile(r"(^|[\s=,])[A-Z][A-Z0-9_]*(\.[a-z0-9]+)?($|[\s,])")
FILE_DATA = ("--train-csv", "--train-idx", "--test-csv", "--test-idx", "--csv", "--idx")


def code_lines(text):
    """The lines of the Markdown code blocks in text (indented or fenced), block by block."""
    blocks, cur, fenced = [], [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            if fenced:
                blocks.append(cur)
                cur = []
            fenced = not fenced
            continue
        if fenced:
            cur.append(line)
        elif line.startswith("    ") and line.strip():
            cur.append(line[4:])
        elif cur and not line.strip():
            continue  # a blank line inside an indented block
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
    return blocks


def joined(lines):
    """Backslash-continued lines joined, comments dropped."""
    out, acc = [], ""
    for line in lines:
        s = line.rstrip()
        if s.endswith("\\"):
            acc += s[:-1] + " "
            continue
        acc += s
        out.append(acc.strip())
        acc = ""
    if acc:
        out.append(acc.strip())
    return out


def strip_comment(cmd):
    try:
        lex = shlex.shlex(cmd, posix=True, punctuation_chars=False)
        lex.whitespace_split = True
        lex.commenters = "#"
        return shlex.join(list(lex))
    except ValueError:
        return cmd


def is_synopsis(cmd):
    return any(c in cmd for c in "[]|(") or "..." in cmd or PLACEHOLDER.search(cmd) is not None


def shorten(args):
    """The command's arguments with short settings."""
    out, i = [], 0
    sub = args[0] if args else ""
    # --epochs counts the epochs a resumed run has done already: one more than those;
    # a run writing checkpoints keeps three, so that a documented resume finds its file
    done = int(args[args.index("--initial-epoch") + 1]) if "--initial-epoch" in args[:-1] else 0
    if "--checkpoint" in args:
        done = 2
    while i < len(args):
        a = args[i]
        if a in ("--epochs", "--trials", "--folds") and i + 1 < len(args):
            cap = {"--epochs": done + 1, "--trials": 2, "--folds": 2}[a]
            out += [a, str(min(int(args[i + 1]), cap))]
            i += 2
            continue
        if a == "--limit" and i + 1 < len(args):
            out += [a, str(min(int(args[i + 1]), 300))]
            i += 2
            continue
        out.append(a)
        i += 1
    fashion = not any(a in FILE_DATA for a in out)
    if sub == "train" and "--epochs" not in out:
        out += ["--epochs", "1"]
    if sub in ("train", "evaluate", "tune") and fashion and "--limit" not in out:
        out += ["--limit", "300"]
    if sub == "predict" and "--idx" in out and "--limit" not in out:
        out += ["--limit", "300"]
    return out, fashion and sub in ("train", "evaluate", "tune")


def collect(root, plexus):
    """(source, kind, text) for every candidate line, in running order."""
    docs = [os.path.join(root, "docs", "cli.md")]
    docs += sorted(p for p in glob.glob(os.path.join(root, "docs", "*.md")) if not p.endswith("cli.md"))
    docs.append(os.path.join(root, "README.md"))
    items = []
    for path in docs:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rel = os.path.relpath(path, root)
        for block in code_lines(text):
            for line in joined(block):
                if line.startswith("plexus "):
                    items.append((rel, "plexus", line))
                elif (re.match(r"^echo .*>\s*\S+$", line) or re.match(r"^mkdir (-p )?\S+$", line)
                      or re.match(r"^python3 examples/[\w.]+\.py( [\w./-]+)*(\s+#.*)?$", line)):
                    items.append((rel, "setup", line))
    helps = [[]] + [[c] for c in ("train", "evaluate", "predict", "summary", "tune")]
    for h in helps:
        r = subprocess.run([plexus] + h + ["--help"], capture_output=True, text=True)
        for line in joined(r.stdout.splitlines()):
            if line.strip().startswith("plexus "):
                items.append(("plexus %s--help" % (h[0] + " " if h else ""), "plexus", line.strip()))
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plexus", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--keep", help="run in this directory and keep it")
    opt = ap.parse_args()
    plexus = os.path.abspath(opt.plexus)
    have_fashion = os.path.exists(FASHION)
    work = opt.keep or tempfile.mkdtemp(prefix="px_doc_cmds_")
    os.makedirs(work, exist_ok=True)
    for d in ("tests", "examples"):
        link = os.path.join(work, d)
        if not os.path.exists(link):
            os.symlink(os.path.join(os.path.abspath(opt.root), d), link)
    ran = failed = skipped = synopses = 0
    seen = set()
    for source, kind, line in collect(opt.root, plexus):
        if kind == "setup":
            subprocess.run(line, shell=True, cwd=work)
            continue
        cmd = strip_comment(line)
        if is_synopsis(cmd):
            synopses += 1
            print(f"synopsis ({source}): {line}")
            continue
        args, needs_fashion = shorten(shlex.split(cmd)[1:])
        if needs_fashion and not have_fashion:
            skipped += 1
            print(f"skipped ({source}, no Fashion-MNIST): {cmd}")
            continue
        key = tuple(args)
        if key in seen:
            continue
        seen.add(key)
        r = subprocess.run([plexus] + args, cwd=work, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        ran += 1
        shown = "plexus " + shlex.join(args)
        if r.returncode == 0:
            print(f"ok ({source}): {shown}")
        else:
            failed += 1
            print(f"FAILED ({source}), exit {r.returncode}: {shown}\n  as documented: {cmd}\n  stderr: {r.stderr.strip()}")
    print(f"{ran} documented commands ran, {failed} failed, {skipped} skipped, {synopses} synopsis lines")
    if not opt.keep:
        shutil.rmtree(work, ignore_errors=True)
    if failed:
        return 1
    return 0 if ran else 77


if __name__ == "__main__":
    sys.exit(main())
