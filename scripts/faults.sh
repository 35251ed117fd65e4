#!/usr/bin/env bash
# Fault injection: builds the service, then runs it against real
# redis-server processes (and sentinels) on 127.0.0.1 while a bounded load
# of visitors (a Go program, scripts/faults) uses it, one fault per
# scenario, and prints one table. Takes about two minutes.
#   scripts/faults.sh            every scenario
#   scripts/faults.sh -run Sentinel -v
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found in PATH: install it (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)" >&2
  exit 1
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go build -o "$dir/sessionsvc" .
go build -o "$dir/faults" ./scripts/faults
"$dir/faults" -bin "$dir/sessionsvc" "$@"
