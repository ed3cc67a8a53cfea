#!/usr/bin/env bash
# Instructions per keep-alive request through the forwarder, counted by valgrind (exact, unlike timings
# on a shared machine): bash benchmarks/count_instructions.sh [repo dir, default: this checkout] [bench options]
# Options after the repo dir go to bench_hotpath.py (e.g. --with=ipallowlist, see its docstring).
# Runs benchmarks/bench_hotpath.py at two request counts under callgrind and divides the difference, so
# start-up and imports cancel out (a fixed hash seed keeps dict layouts, and so the count, repeatable).
# Takes about a minute per count.
set -euo pipefail
repo=$(cd "${1:-$(dirname "$0")/..}" && pwd)
options=("${@:2}")
python=${PYTHON:-$repo/.venv/bin/python}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cd "$repo"
"$python" -m compileall -q proxy benchmarks >/dev/null  # else the first run compiles what the second reuses
count() {
  PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" benchmarks/bench_hotpath.py "$1" ${options[@]+"${options[@]}"} 2>&1 \
    | awk '/Collected/ {print $4}'
}
low=$(count 200)
high=$(count 1200)
echo "$repo ${options[*]-}: $(( (high - low) / 1000 )) instructions per request"
