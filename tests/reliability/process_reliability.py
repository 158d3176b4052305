#!/usr/bin/env python3
"""kill -9 of wrt mid-run must leave no stage process alive (issue 12).

Each trial starts `wrt run` on a pipeline of sleeping stages -- plain
commands, a command that daemonizes (setsid), and, when --plugin-dir is
given, the probe test plugin sleeping inside a worker process -- waits until
every stage process has written its pid, SIGKILLs the wrt process (only wrt:
not its process group), and checks that every stage process is gone within
2 s. Prints a table and a closing "N passed, M failed" line; exit 1 on any
failure. Everything runs on this machine; every wait is bounded.

  python3 tests/reliability/process_reliability.py --wrt build/wrt \
      [--plugin-dir build/tests/test-plugins] [--trials 50] [--seed N]
"""
import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        # Reaped between the kill(0) and the read: reading /proc/PID/stat of
        # a process that just went fails with ESRCH.
        return False


def pipeline(plugin_dir, stages):
    toml = "[settings]\nmax_parallel_jobs = 8\n"
    if plugin_dir:
        toml += f'plugin_path = ["{plugin_dir}"]\n'
    expected = 0
    for i in range(stages):
        toml += (f'[stages.s{i}]\ncache = false\n'
                 f'with = {{ run = "sh -c \'echo $$ > pids/s{i}.pid; exec sleep 300\'" }}\n')
        expected += 1
    toml += ('[stages.daemon]\ncache = false\n'
             'with = { run = "(setsid sh -c \'echo $$ > pids/daemon.pid; exec sleep 300\' &); '
             'sh -c \'echo $$ > pids/parent.pid; exec sleep 300\'" }\n')
    expected += 2
    if plugin_dir:
        # The probe's "sleep" mode spawns `sh -c "sleep N"` from a worker;
        # the pid is not written, so the check below also scans for the
        # worker's tag.
        toml += '[stages.plugin]\nplugin = "probe"\ncache = false\nwith = { mode = "sleep", seconds = 301 }\n'
    return toml, expected


def tagged_processes(prefix):
    """Processes whose WRT_PROCESS_TAG starts with `prefix`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        for e in env:
            if e.startswith(b"WRT_PROCESS_TAG=" + prefix.encode()):
                found.append(int(name))
                break
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wrt", required=True)
    ap.add_argument("--plugin-dir")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    wrt = os.path.abspath(args.wrt)
    plugin_dir = os.path.abspath(args.plugin_dir) if args.plugin_dir else None
    toml, expected = pipeline(plugin_dir, args.stages)
    passed = failed = survivors_total = 0
    start = time.time()
    for trial in range(args.trials):
        ws = tempfile.mkdtemp(prefix="wrt-proc-rel-")
        try:
            os.makedirs(os.path.join(ws, "pids"))
            with open(os.path.join(ws, "wrt.toml"), "w") as f:
                f.write(toml)
            env = dict(os.environ, CI="true")
            env.pop("WRT_PROCESS_TAG", None)
            p = subprocess.Popen([wrt, "run"], cwd=ws, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            deadline = time.time() + 10
            pids = {}
            while time.time() < deadline:
                for n in os.listdir(os.path.join(ws, "pids")):
                    try:
                        with open(os.path.join(ws, "pids", n)) as f:
                            pids[n] = int(f.read().strip())
                    except (ValueError, OSError):
                        pass
                if len(pids) >= expected:
                    break
                time.sleep(0.01)
            time.sleep(rnd.uniform(0, 0.3))  # kill at a random point of the sleeping run
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=10)
            t_kill = time.time()
            # Stage processes by pid, and anything else carrying this run's
            # tag ("wrt-<pid>-<random>/..."), such as the plugin's sleep.
            tag_base = f"wrt-{p.pid}-"
            while True:
                survivors = [pid for pid in pids.values() if alive(pid)]
                stray = [pid for pid in tagged_processes(tag_base) if alive(pid)]
                if (not survivors and not stray) or time.time() > t_kill + 2.0:
                    break
                time.sleep(0.02)
            ok = len(pids) >= expected and not survivors and not stray
            if ok:
                passed += 1
            else:
                failed += 1
                survivors_total += len(survivors) + len(stray)
                print(f"trial {trial} (seed {args.seed}): pids seen {len(pids)}/{expected}, "
                      f"alive after 2 s: {survivors}, tagged strays: {stray}")
                for pid in survivors + stray:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
        finally:
            shutil.rmtree(ws, ignore_errors=True)
    took = time.time() - start
    print(f"kill -9 of wrt with {expected + (1 if plugin_dir else 0)} stage processes per run: "
          f"{args.trials} trials, {failed} with processes alive after 2 s ({survivors_total} processes), "
          f"{took:.1f} s, seed {args.seed}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
