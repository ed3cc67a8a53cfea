#!/usr/bin/env bash
# Set up (once) and run the whole test suite, then Traefik's conformance sample when ../shared has it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
.venv/bin/python -m pytest -q "$@"
if [ -f ../shared/conformance/run_cases.py ]; then
  .venv/bin/python ../shared/conformance/run_cases.py --python "$PWD/.venv/bin/python"
else
  echo "scripts/test.sh: conformance sample skipped: ../shared/conformance/run_cases.py not found" \
       "(it sits next to the checkout in the team's layout)" >&2
fi
