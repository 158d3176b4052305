#!/usr/bin/env python3
"""Interleaved A/B timing of commands, each in its own workspace.

    python3 bench/ab.py ROUNDS DIR_A CMD_A... -- DIR_B CMD_B... [-- DIR_C CMD_C...]

Runs the commands in turn, ROUNDS times after two warm-up rounds, and prints
for each the median and mean wall time and the median CPU time (user + system
of the command and its children). Interleaving makes slow and fast periods of
a noisy machine fall on every command alike; medians keep one stall from
moving the figure.

Give each wrt binary its own copy of the workspace (cp -a): the config cache
is keyed on the executable, so two binaries alternating in one workspace
re-parse wrt.toml on every run and measure that instead.

Example (bench/README.md, twelfth session):
    cp -a bench/work/wrt /dev/shm/a; cp -a bench/work/wrt /dev/shm/b
    python3 bench/ab.py 20 /dev/shm/a build-old/wrt run -j2 -- /dev/shm/b build-bench/wrt run -j2 \\
        -- bench/work/ninja ninja -j2
CI=true is set for every command (wrt prints plain lines, no status line).
"""
import os
import resource
import statistics
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 4 or not sys.argv[1].isdigit():
        print(__doc__, file=sys.stderr)
        return 2
    rounds = int(sys.argv[1])
    specs, cur = [], []
    for a in sys.argv[2:]:
        if a == "--":
            specs.append(cur)
            cur = []
        else:
            cur.append(a)
    specs.append(cur)
    if any(len(s) < 2 for s in specs):
        print("ab.py: each command needs a directory and a command", file=sys.stderr)
        return 2
    env = dict(os.environ, CI="true")
    wall = [[] for _ in specs]
    cpu = [[] for _ in specs]
    for r in range(rounds + 2):
        for i, (d, *cmd) in enumerate(specs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            rc = subprocess.run(cmd, cwd=d, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            t1 = time.perf_counter()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if rc != 0:
                print(f"ab.py: {' '.join(cmd)} in {d} exited {rc}", file=sys.stderr)
                return 1
            if r < 2:
                continue
            wall[i].append((t1 - t0) * 1000)
            cpu[i].append((after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000)
    for i, (d, *cmd) in enumerate(specs):
        print(f"{' '.join(cmd)[:40]:<40} ({os.path.basename(d.rstrip('/'))}): wall median {statistics.median(wall[i]):7.1f} ms, "
              f"mean {statistics.mean(wall[i]):7.1f}, min {min(wall[i]):7.1f}; cpu median {statistics.median(cpu[i]):7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
