#!/usr/bin/env python3
"""Compiles every C and C++ code block of the plugin docs, so a stale name in
the docs fails the test suite (run by CTest as `doc_snippets`).

Each ```c block is compiled as C11, each ```cpp block as C++17 and C++20,
with -Wall -Wextra -Werror against sdk/include. By default a block must be a
complete translation unit. A block that is not says so in an HTML comment
(invisible on GitHub) on the line before its fence:

  <!-- snippet: fragment -->   statements: compiled inside a function that has
                               `s` (const wrt::sdk::Stage&), `host`
                               (const wrt_host*) and `stage` (wrt_stage*);
                               C blocks get `host` and `stage`
  <!-- snippet: decls -->      declarations at file scope, after the SDK
                               headers and the usual standard headers
  <!-- snippet: skip REASON --> not compiled; the reason is required

Errors point at the Markdown file's own lines (#line). A block without a
convention that does not compile fails the test, as does an unknown
convention, a convention before a block that is not C/C++, or no compiled
block at all. `--self-test` checks the checker on made-up documents.

usage: doc_snippets.py --cc CC --cxx CXX --include DIR [--self-test] FILE.md...
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

LANGS = {"c": "c", "cpp": "c++", "c++": "c++", "cxx": "c++", "cc": "c++"}
DIRECTIVE = re.compile(r"^\s*<!--\s*snippet:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([^\s`]*)")

C_PRELUDE = """#include <wrt/plugin.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
"""
CXX_PRELUDE = """#include <wrt/plugin.hpp>
#include <wrt/testing.hpp>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>
"""


class Block:
    def __init__(self, path, line, lang, directive, arg, text):
        self.path, self.line, self.lang = path, line, lang  # line: first line of code (1-based)
        self.directive, self.arg, self.text = directive, arg, text

    def where(self):
        return f"{self.path}:{self.line - 1}"  # the fence line


def blocks(path, text):
    """Fenced blocks with their convention; errors for misplaced conventions."""
    out, errors = [], []
    lines = text.split("\n")
    pending = None  # (directive, arg, line) of the comment just above
    i = 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if m:
            pending = (m.group(1), m.group(2), i + 1)
            i += 1
            continue
        f = FENCE.match(lines[i])
        if not f:
            if lines[i].strip() and pending:
                errors.append(f"{path}:{pending[2]}: 'snippet: {pending[0]}' is not directly before a code block")
                pending = None
            i += 1
            continue
        indent, fence, lang = f.group(1), f.group(2), f.group(3).lower()
        body, j = [], i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j])
            j += 1
        if lang in LANGS:
            directive, arg = (pending[0], pending[1]) if pending else ("file", "")
            out.append(Block(path, i + 2, LANGS[lang], directive, arg, "\n".join(body) + "\n"))
        elif pending:
            errors.append(f"{path}:{pending[2]}: 'snippet: {pending[0]}' before a ```{lang} block (only C/C++ blocks are compiled)")
        pending = None
        i = j + 1
    return out, errors


def source(block):
    """The translation unit to compile for a block, or an error string."""
    line = f'#line {block.line} "{block.path}"\n'
    if block.directive == "file":
        return line + block.text
    if block.directive == "decls":
        return (C_PRELUDE if block.lang == "c" else CXX_PRELUDE) + line + block.text
    if block.directive == "fragment":
        if block.lang == "c":
            head = ("__attribute__((unused)) static void doc_fragment(const wrt_host* host, wrt_stage* stage) {\n"
                    "  (void)host; (void)stage;\n")
            return C_PRELUDE + head + line + block.text + "}\n"
        head = ("[[maybe_unused]] static void doc_fragment(const wrt::sdk::Stage& s, const wrt_host* host, wrt_stage* stage) {\n"
                "  (void)s; (void)host; (void)stage;\n")
        return CXX_PRELUDE + head + line + block.text + "}\n"
    return None


def compile_block(block, args, tmp):
    """List of failure messages (empty when it compiled under every standard)."""
    if block.directive == "skip":
        return [] if block.arg else [f"{block.where()}: 'snippet: skip' needs a reason"]
    src = source(block)
    if src is None:
        return [f"{block.where()}: unknown convention 'snippet: {block.directive}' (file, fragment, decls, skip REASON)"]
    ext = ".c" if block.lang == "c" else ".cc"
    fd, path = tempfile.mkstemp(suffix=ext, dir=tmp)
    with os.fdopen(fd, "w") as f:
        f.write(src)
    stds = ["c11"] if block.lang == "c" else ["c++17", "c++20"]
    failures = []
    for std in stds:
        compiler = args.cc if block.lang == "c" else args.cxx
        cmd = [compiler, f"-std={std}", "-Wall", "-Wextra", "-Werror", "-I", args.include, "-c", path,
               "-o", os.path.join(tmp, "snippet.o")]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            hint = "" if block.directive != "file" else (
                "\n  (a block that is not a complete file needs <!-- snippet: fragment|decls|skip REASON --> before it)")
            failures.append(f"{block.where()}: ```{'c' if block.lang == 'c' else 'cpp'} block does not compile as "
                            f"{std} ({block.directive}):\n{r.stderr.strip()}{hint}")
    return failures


def check(files, args):
    """(number of blocks compiled, failures)."""
    failures, compiled = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for md in files:
            with open(md, encoding="utf-8") as f:
                found, errors = blocks(md, f.read())
            failures += errors
            for b in found:
                fails = compile_block(b, args, tmp)
                failures += fails
                if b.directive != "skip" and not fails:
                    compiled += 1
                print(f"{b.where()}: {b.lang} {b.directive}{' ' + b.arg if b.arg else ''}: "
                      f"{'FAILED' if fails else 'ok'}")
    return compiled, failures


def self_test(args):
    """The checker must pass good blocks and fail each kind of bad one."""
    good = ("# Good\n\n```c\n#include <wrt/plugin.h>\nint f(void) { return WRT_STATUS_PASSED; }\n```\n\n"
            "<!-- snippet: fragment -->\n```cpp\ns.metric(\"n\", 1);\n```\n\n"
            "<!-- snippet: decls -->\n```cpp\nwrt_status run(const wrt::sdk::Stage&) { return WRT_STATUS_PASSED; }\n```\n\n"
            "<!-- snippet: fragment -->\n```c\nhost->set_message(stage, \"x\");\n```\n\n"
            "<!-- snippet: skip shell session -->\n```cpp\n$ not code\n```\n\n```sh\nnot compiled\n```\n")
    bad = {
        "a fragment without a convention": "```cpp\ns.metric(\"n\", 1);\n```\n",
        "a stale name": "<!-- snippet: fragment -->\n```cpp\ns.metrik(\"n\", 1);\n```\n",
        "a stale C name": "```c\n#include <wrt/plugin.h>\nint f(void) { return WRT_STATUS_PASS; }\n```\n",
        "a warning": "<!-- snippet: fragment -->\n```cpp\nint unused = 0;\n```\n",
        "C++20 only code": "```cpp\nauto f() { return __cplusplus; }\nconstinit int x = 1;\n```\n",
        "an unknown convention": "<!-- snippet: fragmnet -->\n```cpp\nint x;\n```\n",
        "a skip without reason": "<!-- snippet: skip -->\n```cpp\nint x;\n```\n",
        "a convention before a shell block": "<!-- snippet: skip x -->\n```sh\nls\n```\n",
        "a convention not before a block": "<!-- snippet: fragment -->\ntext\n\n```cpp\nint main() {}\n```\n",
    }
    problems = []
    with tempfile.TemporaryDirectory() as d:
        def run(name, text):
            p = os.path.join(d, name.replace(" ", "_") + ".md")
            with open(p, "w") as f:
                f.write(text)
            return check([p], args)
        compiled, fails = run("good", good)
        if fails or compiled != 4:
            problems.append(f"good document: {compiled} compiled (want 4), failures: {fails}")
        for name, text in bad.items():
            _, fails = run(name, text)
            if not fails:
                problems.append(f"{name}: not reported")
    for p in problems:
        print("SELF-TEST FAILED:", p, file=sys.stderr)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cc", required=True)
    ap.add_argument("--cxx", required=True)
    ap.add_argument("--include", required=True)
    ap.add_argument("--self-test", action="store_true")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    if args.self_test:
        return self_test(args)
    compiled, failures = check(args.files, args)
    for f in failures:
        print(f, file=sys.stderr)
    if compiled == 0:
        print("no C/C++ block was compiled: the fence parsing is broken or the docs lost their code", file=sys.stderr)
        return 1
    print(f"{compiled} block(s) compiled, {len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
