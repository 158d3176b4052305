#!/usr/bin/env python3
"""Fault-injection reliability test for wrt's cache.

Generates a 40-stage pipeline of `command` stages (5 layers x 8), then
  1. kill:       SIGKILLs `wrt run` (its whole session) at random points,
  2. corrupt:    damages a random cache entry / blob / state file,
  3. concurrent: runs 4 checkouts sharing one cache, plus `wrt cache gc`,
and after every trial "settles" the workspace with a full `wrt run`, which must
exit 0 and leave every output byte-for-byte as expected (content, symlink
target, executable bit, no extra files); a second run must then report every
stage `cached`.

Python 3 standard library only; everything runs locally in a temp directory.
The last line printed is `N passed, M failed`; the exit status is 1 when any
trial failed, 2 on a harness error.  See tests/reliability/README.md.
"""

import argparse
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections import OrderedDict

LAYERS = 5
WIDTH = 8
NSTAGES = LAYERS * WIDTH
VARIANTS = "ABC"

RUN_TIMEOUT = 180      # seconds for any single `wrt run`
TOOL_TIMEOUT = 120     # `wrt cache gc/verify`

# Failure categories, in table order.
CATS = ["wrong", "crash", "hang", "settle_rc", "miss", "stray", "run_rc", "verify"]
CAT_HELP = {
    "wrong": "wrong outputs after a settle run (content, symlink, exec bit, extra/missing file)",
    "crash": "wrt ended by a signal it was not sent (or exit code >= 128)",
    "hang": "wrt did not finish within its timeout",
    "settle_rc": "settle run (or the cached re-run) exited non-zero",
    "miss": "a stage not reported `cached` when it should hit",
    "stray": "`.wrt-restore.*` temp file left under out/ after settling",
    "run_rc": "an un-killed run (concurrent run, gc, or a run that finished before the kill) exited non-zero",
    "verify": "`wrt cache verify` exit status disagrees with its report, missed a damage, or is not idempotent",
}


# --------------------------------------------------------------------------
# The pipeline and its oracle

def stage_name(i):
    return "s%02d" % i


def deps_of(i):
    layer, pos = divmod(i, WIDTH)
    if layer == 0:
        return []
    base = (layer - 1) * WIDTH
    return sorted({base + pos, base + (pos + 3) % WIDTH})


def is_dir_stage(i):
    return i % 7 == 3          # 3, 10, 17, 24, 31, 38


def is_exec_file_stage(i):
    return not is_dir_stage(i) and i % 6 == 5


def sleep_of(i):
    return "0.0%d" % (2 + i % 7) if i % 5 == 1 else None


def dep_read_paths(d):
    n = stage_name(d)
    if is_dir_stage(d):
        return ["out/dir%s/a.txt" % n[1:], "out/dir%s/link" % n[1:]]
    return ["out/%s.txt" % n]


def stage_command(i):
    n = stage_name(i)
    src = "src/%s.txt" % n
    reads = " ".join([src] + [p for d in deps_of(i) for p in dep_read_paths(d)])
    sl = sleep_of(i)
    if is_dir_stage(i):
        o = "out/dir%s" % n[1:]
        parts = ["mkdir -p %s/sub" % o]
        if sl:
            parts += ["printf partial > %s/a.txt" % o, "sleep %s" % sl]
        parts += [
            "cat %s | sha256sum > %s/a.txt" % (reads, o),
            "cut -c1-8 %s/a.txt > %s/b.txt" % (o, o),
            # Above kEntryInlineBlob: stored as a blob, the rest inside the entry.
            "yes \"$(cat %s/a.txt)\" | head -n 300 > %s/big.txt" % (o, o),
            "printf '#!/bin/sh\\necho %d\\n' > %s/run.sh" % (i, o),
            "chmod 755 %s/run.sh" % o,
            "ln -sf a.txt %s/link" % o,
            "cp %s %s/sub/c.txt" % (src, o),
        ]
    else:
        o = "out/%s.txt" % n
        parts = ["mkdir -p out"]
        if sl:
            parts += ["printf partial > %s" % o, "sleep %s" % sl]
        parts += ["cat %s | sha256sum > %s" % (reads, o)]
        if is_exec_file_stage(i):
            parts += ["chmod +x %s" % o]
    return " && ".join(parts)


def stage_outputs(i):
    n = stage_name(i)
    return ["out/dir%s" % n[1:]] if is_dir_stage(i) else ["out/%s.txt" % n]


def toml_str(s):
    # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes.
    return json.dumps(s)


def gen_wrt_toml():
    lines = ['[project]', 'name = "cache-reliability"', '', '[settings]', 'max_parallel_jobs = 4', '']
    for i in range(NSTAGES):
        lines.append("[stages.%s]" % stage_name(i))
        lines.append('inputs = [%s]' % toml_str("src/%s.txt" % stage_name(i)))
        lines.append('outputs = [%s]' % ", ".join(toml_str(o) for o in stage_outputs(i)))
        lines.append('needs = [%s]' % ", ".join(toml_str(stage_name(d)) for d in deps_of(i)))
        lines.append('with = { run = %s }' % toml_str(stage_command(i)))
        lines.append("")
    return "\n".join(lines)


def src_content(i, v):
    """Content of src/sNN.txt in variant v.  Every 4th file is the same in all
    variants, so its stage hits across variants while its dependents do not."""
    if i % 4 == 0:
        head = "stage %d: shared by every variant\n" % i
    else:
        head = "stage %d: variant %s\n" % (i, v)
    # some bulk, deterministic per (stage, variant), different sizes
    seed = hashlib.sha256(head.encode()).hexdigest()
    return (head + (seed + "\n") * (1 + (i + ord(v)) % 5)).encode() if i % 4 else (head + seed + "\n").encode()


def expected_tree(assign):
    """assign: list of variant letters, one per stage.  Returns the expected
    snapshot of out/: rel path -> ('d',) | ('f', bytes, exec) | ('l', target)."""
    tree = {"out": ("d",)}
    read_bytes = {}
    for i in range(NSTAGES):
        n = stage_name(i)
        src = src_content(i, assign[i])
        data = src + b"".join(read_bytes[d] for d in deps_of(i))
        h = (hashlib.sha256(data).hexdigest() + "  -\n").encode()
        if is_dir_stage(i):
            o = "out/dir%s" % n[1:]
            tree[o] = ("d",)
            tree[o + "/sub"] = ("d",)
            tree[o + "/a.txt"] = ("f", h, False)
            tree[o + "/b.txt"] = ("f", h[:8] + b"\n", False)
            tree[o + "/big.txt"] = ("f", h * 300, False)
            tree[o + "/run.sh"] = ("f", b"#!/bin/sh\necho %d\n" % i, True)
            tree[o + "/link"] = ("l", "a.txt")
            tree[o + "/sub/c.txt"] = ("f", src, False)
            read_bytes[i] = h + h
        else:
            tree["out/%s.txt" % n] = ("f", h, is_exec_file_stage(i))
            read_bytes[i] = h
    return tree


def snapshot(ws):
    root = os.path.join(ws, "out")
    tree = {}
    if not os.path.lexists(root):
        return tree
    st = os.lstat(root)
    if not stat.S_ISDIR(st.st_mode):
        tree["out"] = ("?", stat.S_IFMT(st.st_mode))
        return tree
    tree["out"] = ("d",)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, ws)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                tree[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                tree[rel] = ("d",)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    tree[rel] = ("f", f.read(), bool(st.st_mode & stat.S_IXUSR))
            else:
                tree[rel] = ("?", stat.S_IFMT(st.st_mode))
    return tree


def short(v):
    if v[0] == "f":
        b = v[1]
        s = repr(b if len(b) <= 70 else b[:70] + b"...")
        return "file%s %s (%d bytes)" % (" +x" if v[2] else "", s, len(b))
    if v[0] == "l":
        return "symlink -> %r" % v[1]
    if v[0] == "d":
        return "directory"
    return "special file type %o" % v[1]


def compare(expected, actual):
    """Returns (wrong_lines, stray_lines)."""
    wrong, stray = [], []
    for rel in sorted(set(expected) | set(actual)):
        e, a = expected.get(rel), actual.get(rel)
        if e == a:
            continue
        if e is None and os.path.basename(rel).startswith(".wrt-restore."):
            parent = os.path.dirname(rel)
            where = ("inside declared output %s" % parent if parent != "out"
                     else "in out/, beside declared file outputs")
            stray.append("  stray temp %s (%s): %s" % (rel, where, short(a)))
        elif e is None:
            wrong.append("  unexpected %s: %s" % (rel, short(a)))
        elif a is None:
            wrong.append("  missing    %s (expected %s)" % (rel, short(e)))
        else:
            wrong.append("  differs    %s:\n      expected %s\n      actual   %s" % (rel, short(e), short(a)))
    return wrong, stray


def write_sources(ws, assign):
    os.makedirs(os.path.join(ws, "src"), exist_ok=True)
    for i in range(NSTAGES):
        p = os.path.join(ws, "src", "%s.txt" % stage_name(i))
        data = src_content(i, assign[i])
        try:
            with open(p, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        with open(p, "wb") as f:        # in place, like an editor or a checkout
            f.write(data)


def make_workspace(ws, assign):
    os.makedirs(ws, exist_ok=True)
    with open(os.path.join(ws, "wrt.toml"), "w") as f:
        f.write(gen_wrt_toml())
    write_sources(ws, assign)


def pick_assignment(rng, mixed_prob=0.4):
    if rng.random() < mixed_prob:
        return [rng.choice(VARIANTS) for _ in range(NSTAGES)], "mixed"
    v = rng.choice(VARIANTS)
    return [v] * NSTAGES, v


def assign_desc(assign, label):
    return label if label != "mixed" else "mixed:" + "".join(assign)


# --------------------------------------------------------------------------
# Processes

def session_pids(sid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        fields = s[s.rfind(")") + 2:].split()
        # fields: state ppid pgrp session ...
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(d))
    return pids


def kill_session(sid, timeout=10.0):
    """SIGKILL every live process of session sid (wrt puts each stage in its own
    process group of the same session).  Returns how many were found."""
    found = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = session_pids(sid)
        if not pids:
            break
        for p in pids:
            found.add(p)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    return len(found)


class Proc:
    """A wrt process in its own session, output to files."""

    def __init__(self, argv, env, logbase):
        self.argv = argv
        self.logbase = logbase
        self.out = open(logbase + ".out", "wb")
        self.err = open(logbase + ".err", "wb")
        self.t0 = time.monotonic()
        # build/wrt may be being relinked by someone else: retry for a while
        for attempt in range(240):
            try:
                self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err,
                                          env=env, start_new_session=True)
                break
            except OSError as e:
                if e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT, errno.ENOEXEC) or attempt == 239:
                    raise
                time.sleep(0.5)
        self.t0 = time.monotonic()
        self.rc = None
        self.hung = False
        self.orphans = 0
        self.elapsed = None

    def wait(self, timeout):
        try:
            self.rc = self.p.wait(timeout=max(0.1, timeout - (time.monotonic() - self.t0)))
        except subprocess.TimeoutExpired:
            self.hung = True
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.rc = self.p.wait(timeout=30)
        self.elapsed = time.monotonic() - self.t0
        self.orphans = kill_session(self.p.pid)
        self.out.close()
        self.err.close()
        return self.rc

    def text(self, which="err", tail=25):
        try:
            with open(self.logbase + "." + which, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        lines = [l for l in lines if "TBB Warning" not in l and l.strip()]
        return "\n".join("      | " + l for l in lines[-tail:])


def crashed(rc, sent=None):
    if rc is None:
        return False
    if rc < 0:
        return -rc != sent
    return rc >= 128 and rc != 130


class Harness:
    def __init__(self, args):
        self.args = args
        self.wrt = os.path.abspath(args.wrt)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WRT_")}
        self.env["CI"] = "true"
        self.counter = 0
        self.results = OrderedDict()     # scenario -> dict
        self.failure_dirs = []

    def logbase(self, tag):
        self.counter += 1
        return os.path.join(self.logdir, "%05d-%s" % (self.counter, tag))

    def start(self, argv_tail, env=None, tag="wrt"):
        return Proc([self.wrt] + argv_tail, env or self.env, self.logbase(tag))

    def run(self, argv_tail, env=None, timeout=RUN_TIMEOUT, tag="wrt"):
        p = self.start(argv_tail, env, tag)
        p.wait(timeout)
        return p

    # ---- settle: full run, compare, then a run that must be all cached ----
    def settle(self, ws, expected, env=None, restore_check=False, allow_restore_miss=False, info=None):
        """Returns dict category -> list of detail strings."""
        fails = {}

        def add(cat, msg):
            fails.setdefault(cat, []).append(msg)

        def check_proc(p, what):
            if p.hung:
                add("hang", "%s did not finish within %ds" % (what, RUN_TIMEOUT))
                return False
            if crashed(p.rc):
                add("crash", "%s ended with %s\n%s" % (what, p.rc, p.text()))
                return False
            if p.rc != 0:
                add("settle_rc", "%s exited %s\n%s" % (what, p.rc, p.text("out") + "\n" + p.text()))
                return False
            return True

        seen_stray = set()

        def check_tree(what):
            wrong, stray = compare(expected, snapshot(ws))
            if wrong:
                add("wrong", "after %s:\n%s" % (what, "\n".join(wrong[:40])))
            stray = [l for l in stray if l not in seen_stray]
            seen_stray.update(stray)
            if stray:
                add("stray", "after %s:\n%s" % (what, "\n".join(stray)))

        def check_cached(what, report):
            try:
                with open(report) as f:
                    stages = json.load(f)["stages"]
            except (OSError, ValueError, KeyError) as e:
                add("miss", "%s: cannot read report %s: %s" % (what, report, e))
                return
            bad = ["%s=%s (%s)" % (s.get("name"), s.get("status"), s.get("reason", "")) for s in stages
                   if s.get("status") != "cached"]
            if len(stages) != NSTAGES:
                bad.append("report lists %d stages, expected %d" % (len(stages), NSTAGES))
            if bad:
                add("miss", "%s: %d stage(s) not cached: %s" % (what, len(bad), "; ".join(bad[:10])))

        r1 = self.logbase("report") + ".json"
        p = self.run(["run", "-C", ws, "--report", r1], env, tag="settle")
        ok = check_proc(p, "settle run")
        check_tree("settle run")
        if not ok:
            return fails
        r2 = self.logbase("report") + ".json"
        p = self.run(["run", "-C", ws, "--report", r2], env, tag="rerun")
        if check_proc(p, "second run"):
            check_cached("second run", r2)
        check_tree("second run")
        # Restore check: with out/ deleted, every stage must come back from the
        # store.  The run-index lets a run hit without reading the store, so
        # this is what shows that the store itself holds every entry.  After a
        # damaged entry/blob (allow_restore_miss) the first restore may re-run
        # the stages whose entry was lost, but a second one must hit.
        if restore_check and not fails:
            for attempt in (1, 2):
                what = "restore run #%d (out/ deleted)" % attempt
                shutil.rmtree(os.path.join(ws, "out"), ignore_errors=True)
                r3 = self.logbase("report") + ".json"
                p = self.run(["run", "-C", ws, "--report", r3], env, tag="restore")
                if check_proc(p, what):
                    if attempt == 1 and allow_restore_miss:
                        n = self.count_not_cached(r3)
                        if n and info is not None:
                            info.append("%s re-ran %d stage(s) whose entry the damage destroyed" % (what, n))
                    else:
                        check_cached(what, r3)
                check_tree(what)
                if fails or not allow_restore_miss:
                    break
        return fails

    def reset_after(self, ws, fails):
        """After a failing trial has been recorded (and its workspace copied):
        remove leaked restore temps, which wrt never removes from outside a
        declared output, and out/ after wrong outputs, so that one failure is
        not counted again by the following trials."""
        if not fails:
            return
        if "wrong" in fails:
            shutil.rmtree(os.path.join(ws, "out"), ignore_errors=True)
            return
        for dirpath, dirnames, filenames in os.walk(os.path.join(ws, "out")):
            for n in dirnames + filenames:
                if n.startswith(".wrt-restore."):
                    p = os.path.join(dirpath, n)
                    if os.path.isdir(p) and not os.path.islink(p):
                        shutil.rmtree(p, ignore_errors=True)
                    else:
                        os.unlink(p)

    def count_not_cached(self, report):
        try:
            with open(report) as f:
                return sum(1 for s in json.load(f)["stages"] if s.get("status") != "cached")
        except (OSError, ValueError, KeyError):
            return -1

    # ---- bookkeeping ----
    def new_scenario(self, name):
        self.results[name] = {"trials": 0, "failed": 0, **{c: 0 for c in CATS}, "info": {}}
        return self.results[name]

    def record(self, scen, name, trial, fails, context, keep_dirs):
        scen["trials"] += 1
        if not fails:
            return
        scen["failed"] += 1
        for cat in fails:
            scen[cat] += 1          # columns count trials, not messages
        kept = []
        for label, d in keep_dirs:
            dest = os.path.join(self.base, "failures", "%s-trial%03d" % (name, trial), label)
            try:
                shutil.copytree(d, dest, symlinks=True)
                kept.append(dest)
            except OSError as e:
                kept.append("(could not copy %s: %s)" % (d, e))
        self.failure_dirs.extend(kept)
        print("FAIL %s trial %d (seed %d): %s" % (name, trial, self.args.seed, ", ".join(sorted(fails))))
        for line in context:
            print("  " + line)
        for cat, msgs in fails.items():
            for m in msgs:
                print("  [%s] %s" % (cat, m))
        for k in kept:
            print("  kept: %s" % k)
        print("  repeat: %s" % self.repeat_cmd(name))
        sys.stdout.flush()

    def repeat_cmd(self, name):
        a = self.args
        return ("python3 tests/reliability/cache_reliability.py --wrt %s --seed %d --scenarios %s "
                "--kill-trials %d --corrupt-trials %d --concurrent-rounds %d --workdir DIR"
                % (a.wrt, a.seed, name, a.kill_trials, a.corrupt_trials, a.concurrent_rounds))

    def info(self, scen, key, n=1):
        scen["info"][key] = scen["info"].get(key, 0) + n

    # ----------------------------------------------------------------------
    def calibrate(self):
        """Checks the Python oracle against wrt itself (fresh workspace, empty
        cache, per variant) and measures run times."""
        self.cold_times, self.restore_times = [], []
        for v in VARIANTS:
            ws = os.path.join(self.tmp, "ref-" + v)
            make_workspace(ws, [v] * NSTAGES)
            env = dict(self.env, WRT_CACHE_DIR=os.path.join(self.tmp, "ref-cache-" + v))
            p = self.run(["run", "-C", ws], env, tag="ref-" + v)
            if p.rc != 0:
                raise HarnessError("reference run of variant %s exited %s\n%s" % (v, p.rc, p.text("out") + p.text()))
            self.cold_times.append(p.elapsed)
            wrong, stray = compare(expected_tree([v] * NSTAGES), snapshot(ws))
            if wrong or stray:
                raise HarnessError("the Python oracle disagrees with a fresh wrt run of variant %s:\n%s"
                                   % (v, "\n".join(wrong + stray)))
            shutil.rmtree(os.path.join(ws, "out"))
            p = self.run(["run", "-C", ws], env, tag="ref-restore-" + v)
            if p.rc != 0:
                raise HarnessError("reference restore run of variant %s exited %s" % (v, p.rc))
            self.restore_times.append(p.elapsed)
            wrong, stray = compare(expected_tree([v] * NSTAGES), snapshot(ws))
            if wrong or stray:
                raise HarnessError("restore of variant %s from a fresh cache differs:\n%s"
                                   % (v, "\n".join(wrong + stray)))
            shutil.rmtree(ws)
            shutil.rmtree(env["WRT_CACHE_DIR"])
        self.cold = max(self.cold_times)
        self.restore = max(self.restore_times)
        print("calibration: oracle matches wrt for variants %s; cold run %.2fs, restore-all run %.2fs"
              % (",".join(VARIANTS), self.cold, self.restore))

    def kill_delay(self, rng):
        r = rng.random()
        if r < 0.2:
            return rng.uniform(0, 0.06)                           # start-up: config, lock, state loading
        if r < 0.45:
            return rng.uniform(0, max(0.05, self.restore * 1.3))  # restore / hit phase
        return rng.uniform(0, min(1.5, max(0.3, self.cold * 1.3)))  # anywhere in a cold run

    # ---- scenario 1 -------------------------------------------------------
    def scenario_kill(self, trials):
        name = "kill"
        scen = self.new_scenario(name)
        rng = random.Random("%d-kill" % self.args.seed)
        ws = os.path.join(self.tmp, "kill-ws")
        assign, label = [VARIANTS[0]] * NSTAGES, VARIANTS[0]
        make_workspace(ws, assign)
        for t in range(1, trials + 1):
            # fresh content now and then, so that kills also land in real stage
            # execution and in cache writes, not only in restores
            if rng.random() < 0.3:
                salt = rng.randrange(1 << 30)
                assign, label = self.salted(rng, salt)
            else:
                assign, label = pick_assignment(rng)
            write_sources(ws, assign)
            ctx = ["variant %s" % assign_desc(assign, label)]
            if rng.random() < 0.4:
                shutil.rmtree(os.path.join(ws, "out"), ignore_errors=True)
                ctx.append("out/ deleted before the run")
            elif rng.random() < 0.3:
                victims = self.delete_some_outputs(rng, ws)
                ctx.append("deleted before the run: %s" % ", ".join(victims))
            delay = self.kill_delay(rng)
            p = self.start(["run", "-C", ws], tag="kill")
            time.sleep(delay)
            killed = p.p.poll() is None
            if killed:
                try:
                    os.killpg(p.p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            p.wait(30)
            ctx.append("SIGKILL after %.3fs: %s; wrt rc %s; %d stage process(es) outlived wrt's group and were killed"
                       % (delay, "run was still going" if killed else "run had already finished", p.rc, p.orphans))
            self.info(scen, "killed mid-run" if killed else "finished before the kill")
            if p.orphans:
                self.info(scen, "trials with orphaned stage processes")
            fails = {}
            if p.hung:
                fails["hang"] = ["killed run did not exit within 30s of SIGKILL"]
            elif crashed(p.rc, signal.SIGKILL if killed else None):
                fails["crash"] = ["run ended with %s\n%s" % (p.rc, p.text())]
            elif not killed and p.rc != 0:
                fails["run_rc"] = ["run finished before the kill with exit %s\n%s" % (p.rc, p.text("out") + p.text())]
            exp = self.expected_for(assign)
            for cat, msgs in self.settle(ws, exp, restore_check=rng.random() < 0.5, info=ctx).items():
                fails.setdefault(cat, []).extend(msgs)
            self.record(scen, name, t, fails, ctx, [("ws", ws)])
            self.reset_after(ws, fails)
            self.progress(name, t, trials)

    def salted(self, rng, salt):
        """A variant not seen before for a random subset of stages."""
        # Encode a fresh variant as a letter outside A-C; src_content only uses
        # the letter, so a salted letter is a new content.
        letter = chr(0x100 + salt % 0xD000)
        assign = [letter if rng.random() < 0.3 else rng.choice(VARIANTS) for _ in range(NSTAGES)]
        return assign, "salted"

    def expected_for(self, assign):
        key = tuple(assign)
        cache = getattr(self, "_exp_cache", None)
        if cache is None:
            cache = self._exp_cache = {}
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = expected_tree(assign)
        return cache[key]

    def delete_some_outputs(self, rng, ws):
        out = os.path.join(ws, "out")
        victims = []
        if not os.path.isdir(out):
            return victims
        names = sorted(os.listdir(out))
        for n in rng.sample(names, min(len(names), rng.randint(1, 5))):
            p = os.path.join(out, n)
            if os.path.isdir(p) and not os.path.islink(p):
                # sometimes the whole dir output, sometimes one file in it
                inner = sorted(os.listdir(p))
                if inner and rng.random() < 0.5:
                    q = os.path.join(p, rng.choice(inner))
                    if os.path.isdir(q) and not os.path.islink(q):
                        shutil.rmtree(q)
                    else:
                        os.unlink(q)
                    victims.append(os.path.relpath(q, ws))
                    continue
                shutil.rmtree(p)
            else:
                os.unlink(p)
            victims.append(os.path.relpath(p, ws))
        return victims

    def progress(self, name, t, total):
        if t == total or t % 10 == 0:
            s = self.results[name]
            print("  %s: %d/%d trials, %d failed (%.0fs)" % (name, t, total, s["failed"], time.monotonic() - self.t0))
            sys.stdout.flush()

    # ---- scenario 2 -------------------------------------------------------
    def damage(self, rng, path):
        st = os.lstat(path)
        size = st.st_size
        mode = rng.choice(["bitflip", "truncate", "random", "delete"])
        if mode == "truncate" and size == 0:
            mode = "random"
        if mode == "bitflip" and size == 0:
            mode = "random"
        if mode == "delete":
            os.unlink(path)
            return "deleted", False
        if not st.st_mode & stat.S_IWUSR:
            os.chmod(path, st.st_mode | stat.S_IWUSR)
        with open(path, "rb") as f:
            old = f.read()
        if mode == "bitflip":
            pos = rng.randrange(size)
            bit = rng.randrange(8)
            data = bytearray(old)
            data[pos] ^= 1 << bit
            desc = "flipped bit %d of byte %d (of %d)" % (bit, pos, size)
        elif mode == "truncate":
            n = rng.randrange(size)
            data = old[:n]
            desc = "truncated from %d to %d bytes" % (size, n)
        else:
            n = rng.randint(1, max(1, 2 * size))
            data = bytes(rng.getrandbits(8) for _ in range(n))
            if data == old:
                data += b"\0"
            desc = "replaced by %d random bytes (was %d)" % (len(data), size)
        with open(path, "r+b") as f:     # same inode: what a bad disk or a torn write would do
            f.write(data)
            f.truncate(len(data))
        if not st.st_mode & stat.S_IWUSR:
            os.chmod(path, st.st_mode)
        return desc, True

    def corruption_candidates(self, ws):
        cats = {}
        for cat, d in (("entries", ".wrt/cache/entries"), ("blobs", ".wrt/cache/blobs")):
            files = []
            for dirpath, _, filenames in os.walk(os.path.join(ws, d)):
                files += [os.path.join(dirpath, f) for f in filenames]
            cats[cat] = sorted(files)
        sd = os.path.join(ws, ".wrt/state")
        cats["state"] = sorted(os.path.join(sd, f) for f in os.listdir(sd)
                               if os.path.isfile(os.path.join(sd, f))) if os.path.isdir(sd) else []
        return {k: v for k, v in cats.items() if v}

    def cache_verify(self, ws, expect_problem):
        """Runs `wrt cache verify` twice.  Returns (fails, summary)."""
        fails = {}
        summaries = []
        for attempt in (1, 2):
            p = self.run(["cache", "verify", "-C", ws], timeout=TOOL_TIMEOUT, tag="verify")
            if p.hung:
                fails.setdefault("hang", []).append("cache verify did not finish")
                break
            if crashed(p.rc):
                fails.setdefault("crash", []).append("cache verify ended with %s\n%s" % (p.rc, p.text()))
                break
            out = p.text("out", tail=1000)
            m = re.search(r"checked (\d+) blobs and (\d+) entries: (\d+) problem", out)
            if not m:
                fails.setdefault("verify", []).append("cache verify (rc %s) printed no summary:\n%s\n%s"
                                                      % (p.rc, out, p.text()))
                break
            problems = int(m.group(3))
            summaries.append("verify #%d: rc %s, %d problem(s)" % (attempt, p.rc, problems))
            if (p.rc != 0) != (problems > 0):
                fails.setdefault("verify", []).append("cache verify exited %s but reported %d problem(s)\n%s"
                                                      % (p.rc, problems, out))
            if attempt == 1 and expect_problem and problems == 0:
                fails.setdefault("verify", []).append("cache verify reported no problem after the damage\n%s" % out)
            if attempt == 2 and problems != 0:
                fails.setdefault("verify", []).append("a second cache verify still reports %d problem(s)\n%s"
                                                      % (problems, out))
        return fails, "; ".join(summaries)

    def scenario_corrupt(self, trials):
        name = "corrupt"
        scen = self.new_scenario(name)
        rng = random.Random("%d-corrupt" % self.args.seed)
        ws = os.path.join(self.tmp, "corrupt-ws")
        make_workspace(ws, [VARIANTS[0]] * NSTAGES)
        # warm-up: several entries per stage in the cache
        warm = [[v] * NSTAGES for v in VARIANTS] + [pick_assignment(rng, 1.0)[0] for _ in range(2)]
        warm.append([VARIANTS[0]] * NSTAGES)
        for a in warm:
            write_sources(ws, a)
            p = self.run(["run", "-C", ws], tag="warm")
            if p.rc != 0:
                raise HarnessError("warm-up run exited %s\n%s" % (p.rc, p.text()))
        assign, label = warm[-1], VARIANTS[0]
        for t in range(1, trials + 1):
            ctx = []
            # the workspace is settled (warm-up or previous trial): damage one file
            cands = self.corruption_candidates(ws)
            cat = rng.choice(sorted(cands))
            target = rng.choice(cands[cat])
            rel = os.path.relpath(target, ws)
            desc, modified = self.damage(rng, target)
            ctx.append("damaged %s: %s" % (rel, desc))
            if rng.random() < 0.5:
                assign, label = pick_assignment(rng, 0.2)
            ctx.append("variant %s" % assign_desc(assign, label))
            write_sources(ws, assign)
            r = rng.random()
            if r < 0.15:
                shutil.rmtree(os.path.join(ws, "out"), ignore_errors=True)
                ctx.append("out/ deleted")
            elif r < 0.5:
                ctx.append("deleted: %s" % ", ".join(self.delete_some_outputs(rng, ws)))
            fails = {}
            if rng.random() < 0.4:
                vf, summary = self.cache_verify(ws, expect_problem=modified and cat in ("entries", "blobs"))
                ctx.append("cache verify ran before settling: %s" % summary)
                fails.update(vf)
                self.info(scen, "trials with cache verify")
            self.info(scen, "damaged %s" % cat)
            for c, msgs in self.settle(ws, self.expected_for(assign), restore_check=True,
                                       allow_restore_miss=cat in ("entries", "blobs"), info=ctx).items():
                fails.setdefault(c, []).extend(msgs)
            self.record(scen, name, t, fails, ctx, [("ws", ws)])
            self.reset_after(ws, fails)
            self.progress(name, t, trials)

    # ---- scenario 3 -------------------------------------------------------
    def scenario_concurrent(self, rounds):
        name = "concurrent"
        scen = self.new_scenario(name)
        rng = random.Random("%d-concurrent" % self.args.seed)
        base = os.path.join(self.tmp, "conc")
        cache = os.path.join(base, "shared-cache")
        wss = [os.path.join(base, "checkout%d" % k) for k in range(4)]
        for ws in wss:
            make_workspace(ws, [VARIANTS[0]] * NSTAGES)
        env = dict(self.env, WRT_CACHE_DIR=cache)
        for t in range(1, rounds + 1):
            ctx = []
            assigns = []
            for k, ws in enumerate(wss):
                if rng.random() < 0.15:
                    assign, label = self.salted(rng, rng.randrange(1 << 30))
                else:
                    assign, label = pick_assignment(rng)
                assigns.append(assign)
                write_sources(ws, assign)
                extra = ""
                if rng.random() < 0.4:
                    shutil.rmtree(os.path.join(ws, "out"), ignore_errors=True)
                    extra = ", out/ deleted"
                ctx.append("checkout%d: variant %s%s" % (k, assign_desc(assign, label), extra))
            gc_delay = rng.uniform(0, max(0.1, self.cold))
            ctx.append("gc --max-size 20KB started %.3fs after the runs" % gc_delay)
            procs = [self.start(["run", "-C", ws], env, tag="conc%d" % k) for k, ws in enumerate(wss)]
            time.sleep(gc_delay)
            gc = self.start(["cache", "gc", "--max-size", "20KB", "--cache-dir", cache], env, tag="gc")
            fails = {}
            for k, p in enumerate(procs + [gc]):
                what = "checkout%d run" % k if k < 4 else "cache gc"
                p.wait(RUN_TIMEOUT if k < 4 else TOOL_TIMEOUT)
                if p.hung:
                    fails.setdefault("hang", []).append("%s did not finish" % what)
                elif crashed(p.rc):
                    fails.setdefault("crash", []).append("%s ended with %s\n%s" % (what, p.rc, p.text()))
                elif p.rc != 0:
                    fails.setdefault("run_rc", []).append("%s exited %s\n%s" % (what, p.rc, p.text("out") + "\n" + p.text()))
            gc_out = gc.text("out", tail=3).strip()
            m = re.search(r"removed (\d+) entries and (\d+) blobs", gc_out)
            if m:
                self.info(scen, "entries evicted by the concurrent gc", int(m.group(1)))
                self.info(scen, "blobs evicted by the concurrent gc", int(m.group(2)))
            ctx.append("gc: %s" % (gc_out.replace("      | ", "") or "(no output)"))
            for k, ws in enumerate(wss):
                for c, msgs in self.settle(ws, self.expected_for(assigns[k]), env).items():
                    fails.setdefault(c, []).extend("checkout%d: %s" % (k, m) for m in msgs)
            self.record(scen, name, t, fails, ctx, [(os.path.basename(d), d) for d in wss] + [("shared-cache", cache)])
            for ws in wss:
                self.reset_after(ws, fails)
            self.progress(name, t, rounds)

    # ----------------------------------------------------------------------
    def table(self):
        cols = ["trials"] + CATS + ["failed"]
        w = max(len(n) for n in list(self.results) + ["scenario"])
        print()
        print("%-*s " % (w, "scenario") + " ".join("%9s" % c for c in cols))
        for n, s in self.results.items():
            print("%-*s " % (w, n) + " ".join("%9d" % s[c] for c in cols))
        print()
        for n, s in self.results.items():
            if s["info"]:
                print("%s: %s" % (n, ", ".join("%s %d" % kv for kv in sorted(s["info"].items()))))
        print("columns count the trials with each kind of failure: " + "; ".join("%s = %s" % (c, CAT_HELP[c]) for c in CATS))


class HarnessError(Exception):
    pass


def copy_binary(wrt, dest_dir):
    """Copies wrt and its command plugin (found by wrt next to itself, in
    plugins/) so that a rebuild of build/ during the test cannot swap the
    binary under a trial.  Retries while the source is being relinked."""
    src_plugin = os.path.join(os.path.dirname(wrt), "plugins", "wrt-plugin-command.so")
    os.makedirs(os.path.join(dest_dir, "plugins"), exist_ok=True)
    dst = os.path.join(dest_dir, "wrt")
    last = None
    for _ in range(120):
        try:
            before = (os.stat(wrt).st_mtime_ns, os.stat(src_plugin).st_mtime_ns)
            shutil.copy2(wrt, dst)
            shutil.copy2(src_plugin, os.path.join(dest_dir, "plugins", "wrt-plugin-command.so"))
            after = (os.stat(wrt).st_mtime_ns, os.stat(src_plugin).st_mtime_ns)
            if before == after:
                r = subprocess.run([dst, "plugins"], capture_output=True, timeout=60, cwd=dest_dir)
                if r.returncode == 0 and b"command " in r.stdout:
                    return dst
                last = "`wrt plugins` exited %s: %s" % (r.returncode, r.stderr[-300:])
        except (OSError, subprocess.SubprocessError) as e:
            last = str(e)
        time.sleep(1)
    raise HarnessError("cannot take a stable copy of %s: %s" % (wrt, last))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wrt", default="build/wrt", help="the wrt binary (default: build/wrt)")
    ap.add_argument("--kill-trials", type=int, default=None, help="scenario 1 trials (default 100, quick 10)")
    ap.add_argument("--corrupt-trials", type=int, default=None, help="scenario 2 trials (default 50, quick 10)")
    ap.add_argument("--concurrent-rounds", type=int, default=None, help="scenario 3 rounds (default 20, quick 3)")
    ap.add_argument("--quick", action="store_true", help="10 kill trials, 10 corruption trials, 3 concurrent rounds")
    ap.add_argument("--scenarios", default="kill,corrupt,concurrent",
                    help="comma-separated subset of kill,corrupt,concurrent")
    ap.add_argument("--no-copy", action="store_true",
                    help="run the given wrt in place instead of a private copy of it and its command plugin")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: from the clock, printed)")
    ap.add_argument("--workdir", default=None,
                    help="directory for temp workspaces and kept failures (default: a new temp dir, "
                         "removed unless a trial failed)")
    args = ap.parse_args()
    q = args.quick
    if args.kill_trials is None:
        args.kill_trials = 10 if q else 100
    if args.corrupt_trials is None:
        args.corrupt_trials = 10 if q else 50
    if args.concurrent_rounds is None:
        args.concurrent_rounds = 3 if q else 20
    if args.seed is None:
        args.seed = int(time.time() * 1000) % 1000000007
    scen = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in scen:
        if s not in ("kill", "corrupt", "concurrent"):
            ap.error("unknown scenario %r" % s)
    if not (os.path.isfile(args.wrt) and os.access(args.wrt, os.X_OK)):
        ap.error("%s is not an executable" % args.wrt)

    h = Harness(args)
    h.t0 = time.monotonic()
    user_workdir = args.workdir is not None
    if user_workdir:
        os.makedirs(args.workdir, exist_ok=True)
        h.base = os.path.abspath(args.workdir)
    else:
        h.base = tempfile.mkdtemp(prefix="wrt-cache-reliability-")
    h.tmp = tempfile.mkdtemp(prefix="run-", dir=h.base)
    h.logdir = os.path.join(h.tmp, "logs")
    os.makedirs(h.logdir)
    print("wrt cache reliability: seed %d, wrt %s, kill %d, corrupt %d, concurrent %d, workdir %s"
          % (args.seed, h.wrt, args.kill_trials, args.corrupt_trials, args.concurrent_rounds, h.base))
    sys.stdout.flush()
    rc = 0
    try:
        if not args.no_copy:
            h.wrt = copy_binary(h.wrt, os.path.join(h.tmp, "bin"))
        with open(h.wrt, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        print("testing %s (sha256 %s%s)" % (h.wrt, digest[:16],
                                            "" if args.no_copy else ", a copy of %s and its command plugin" % args.wrt))
        h.calibrate()
        if "kill" in scen and args.kill_trials > 0:
            h.scenario_kill(args.kill_trials)
        if "corrupt" in scen and args.corrupt_trials > 0:
            h.scenario_corrupt(args.corrupt_trials)
        if "concurrent" in scen and args.concurrent_rounds > 0:
            h.scenario_concurrent(args.concurrent_rounds)
    except HarnessError as e:
        print("harness error: %s" % e)
        rc = 2
    except KeyboardInterrupt:
        print("interrupted")
        rc = 130
    finally:
        t_clean = time.monotonic()
        shutil.rmtree(h.tmp, ignore_errors=True)
        t_clean = time.monotonic() - t_clean
        if not user_workdir and not h.failure_dirs:
            shutil.rmtree(h.base, ignore_errors=True)
    h.table()
    passed = sum(s["trials"] - s["failed"] for s in h.results.values())
    failed = sum(s["failed"] for s in h.results.values())
    if h.failure_dirs:
        print("failing workspaces kept under %s" % os.path.join(h.base, "failures"))
    print("seed %d, wall time %.1fs (of which %.1fs removing temp dirs)" % (args.seed, time.monotonic() - h.t0, t_clean))
    print("%d passed, %d failed" % (passed, failed))
    if rc == 0 and failed:
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
