#!/usr/bin/env bash
# The measurement campaign behind BENCHMARKS.md: every scenario at 1, 100 and
# 1,000 clients (fan-out and idle also at 10,000 and ~20,000), each run
# bounded to well under 20 s. Usage, from the workspace root:
#   cargo build --release -p liveview-bench
#   bash crates/liveview-bench/campaign.sh [OUT.jsonl]
# Prints each command and its table; appends each run's JSON line to OUT.
# The ~20,000 runs use 19,979 / 19,980 connections: a process here may hold
# at most 20,000 open files (hard RLIMIT_NOFILE), including a few it needs
# besides its connections.
set -euo pipefail
BIN=${BIN:-target/release/liveview-bench}
OUT=${1:-/dev/null}
run() {
    echo "\$ liveview-bench $*"
    # Exit status 2 (some event unanswered) still prints the figures.
    "$BIN" "$@" --no-progress | tee /tmp/liveview-bench-run.txt || true
    tail -n 1 /tmp/liveview-bench-run.txt >>"$OUT"
    echo
}
date -u
uname -srm
nproc

run rtt -n 1 --events 20000
run rtt -n 100 --events 500
run rtt -n 1000 --events 60

run throughput -n 1 -d 10s
run throughput -n 100 -d 10s
run throughput -n 1000 -d 10s
run throughput -n 1000 -d 10s --rate 30000

run fanout -n 1 --rounds 20
run fanout -n 100 --rounds 20
run fanout -n 1000 --rounds 20
run fanout -n 10000 --rounds 20
run fanout -n 19979 --rounds 10

run idle -n 1000
run idle -n 10000
run idle -n 19980

run http -n 1 --requests 20000
run http -n 100 --requests 500
run http -n 1000 --requests 60
