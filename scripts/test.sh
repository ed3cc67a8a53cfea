#!/usr/bin/env bash
# Set up (once) and run the whole test suite, the plugin in a fresh project, then Traefik's conformance sample
# when ../shared has it.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -e '.[test]'
# rateLimit's redis tests run a real redis-server (Debian package); install it when we can (root + apt-get).
if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends redis-server >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q --no-install-recommends redis-server >/dev/null 2>&1; } \
      || echo "redis-server could not be installed: the redis rate-limit tests will be skipped" >&2
  else
    echo "redis-server is missing and cannot be installed here (needs root + apt-get): redis tests skipped" >&2
  fi
fi
# The dashboard's browser test drives Debian's chromium (Playwright, no browser download); install it the same way.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q --no-install-recommends chromium >/dev/null 2>&1; } \
      || echo "chromium could not be installed: the dashboard browser test will be skipped" >&2
  else
    echo "chromium is missing and cannot be installed here (needs root + apt-get): browser test skipped" >&2
  fi
fi
.venv/bin/python -m pytest -q "$@"
bash scripts/fresh_project.sh  # the plugin as a new project installs it: built wheel, fresh venv, both asyncio modes
if [ -f ../shared/conformance/run_cases.py ]; then
  .venv/bin/python ../shared/conformance/run_cases.py --python "$PWD/.venv/bin/python"
else
  echo "scripts/test.sh: conformance sample skipped: ../shared/conformance/run_cases.py not found" \
       "(it sits next to the checkout in the team's layout)" >&2
fi
