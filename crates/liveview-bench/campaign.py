#!/usr/bin/env python3
"""The measurement campaign behind BENCHMARKS.md.

Runs every scenario at 1, 100 and 1,000 clients (fan-out and idle also at
10,000 and ~20,000), each run bounded to well under 20 s, on a release build:

    cargo build --release -p liveview-bench
    python3 crates/liveview-bench/campaign.py results.jsonl

The machine is shared (2 cores): before each run the script waits until the
machine has been at least 90 % idle for 5 s, and a run during which other
processes used more than 5 % of the CPU capacity (the tool reports that as
`other_s`) is repeated, up to 3 attempts. Every attempt's table is printed and
its JSON line appended to the output file, with the attempt number.

The ~20,000 runs use 19,979 receivers (+1 control connection) and 19,980 idle
connections: a process here may hold at most 20,000 open files (hard
RLIMIT_NOFILE), a few of which it needs besides its connections.
"""

import json
import os
import platform
import subprocess
import sys
import time

BIN = os.environ.get("BIN", "target/release/liveview-bench")

RUNS = [
    "rtt -n 1 --events 20000",
    "rtt -n 100 --events 500",
    "rtt -n 1000 --events 60",
    "throughput -n 1 -d 10s",
    "throughput -n 100 -d 10s",
    "throughput -n 1000 -d 10s",
    "throughput -n 1000 -d 10s --rate 30000",
    "fanout -n 1 --rounds 20",
    "fanout -n 100 --rounds 20",
    "fanout -n 1000 --rounds 20",
    "fanout -n 10000 --rounds 20",
    "fanout -n 19979 --rounds 10",
    "idle -n 1000",
    "idle -n 10000",
    "idle -n 19980",
    "http -n 1 --requests 20000",
    "http -n 100 --requests 500",
    "http -n 1000 --requests 60",
    # The same one-client round trip with server and bench on one vCPU
    # (no cross-vCPU wake-ups; see BENCHMARKS.md).
    "taskset -c 0 rtt -n 1 --events 20000",
]


def cpu_times():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def idle_percent(seconds=5.0):
    a = cpu_times()
    time.sleep(seconds)
    d = [y - x for x, y in zip(a, cpu_times())]
    return 100.0 * (d[3] + d[4]) / max(1, sum(d))


def wait_quiet(limit=180.0):
    start = time.time()
    while time.time() - start < limit:
        p = idle_percent()
        if p >= 90.0:
            return p
    return None


def main():
    out = open(sys.argv[1] if len(sys.argv) > 1 else os.devnull, "a")
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    print(time.strftime("%Y-%m-%d %H:%M:%S %Z"), "|", platform.platform(), "|",
          os.cpu_count(), "cores | commit", commit, flush=True)
    for run in RUNS:
        words = run.split()
        prefix = []
        if words[0] == "taskset":
            prefix, words = words[:3], words[3:]
        for attempt in range(1, 4):
            quiet = wait_quiet()
            proc = subprocess.run(prefix + [BIN] + words + ["--no-progress"],
                                  capture_output=True, text=True)
            lines = proc.stdout.strip().splitlines()
            try:
                result = json.loads(lines[-1])
            except (IndexError, json.JSONDecodeError):
                print(f"$ {run}: no JSON line (exit {proc.returncode})\n{proc.stderr}", flush=True)
                break
            cpu = result.get("cpu") or result.get("cpu_while_idle") or {}
            elapsed = result.get("elapsed_s") or result.get("settle_s") or 1.0
            other = cpu.get("other_s") or 0.0
            share = other / (2.0 * elapsed)
            quiet_text = "timed out" if quiet is None else f"{quiet:.0f} %"
            print(f"$ liveview-bench {run}   # attempt {attempt}; machine idle before: "
                  f"{quiet_text}; other processes during the run: {100 * share:.0f} % of the CPU",
                  flush=True)
            print(proc.stdout, flush=True)
            out.write(json.dumps({"run": run, "attempt": attempt, "commit": commit,
                                  "other_share": round(share, 3), "result": result}) + "\n")
            out.flush()
            # Idle memory does not depend on CPU; other runs repeat when disturbed.
            if share <= 0.05 or words[0] == "idle":
                break


if __name__ == "__main__":
    main()
