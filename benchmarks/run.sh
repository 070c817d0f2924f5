#!/usr/bin/env bash
# Build the benchmark's own environment (the project plus the alternatives it is compared with,
# which are never project dependencies) and run the benchmark table.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-bench/bin/python ]; then
  python3 -m venv .venv-bench
  .venv-bench/bin/pip install -q -e . codecarbon ipython-autotime
fi
exec .venv-bench/bin/python benchmarks/bench.py "$@"
