#!/usr/bin/env bash
# Runs the whole test suite: unit, integration (real WebSockets), doc tests,
# and end-to-end tests in a real headless Chromium.
#
# Installs what the tests need when it is missing (Debian's chromium and
# chromium-driver; redis-server for the Redis tests), so that it works on a
# fresh machine. Tests that need them fail, never skip, without them.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# End-to-end tests each start a browser: keep them from crowding a small machine.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-4}"
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
