#!/usr/bin/env bash
# Set up (once) and serve config/: the demo upstream on 127.0.0.1:8000 and the gateway on :9999.
# Then: curl localhost:9999/api/v1/app
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import proxy, aiohttp, httptools" 2>/dev/null || .venv/bin/pip install -q -e .
.venv/bin/python config/demo_app.py --port 8000 &
demo=$!
trap 'kill "$demo" 2>/dev/null || true' EXIT INT TERM
echo "demo upstream pid $demo on 127.0.0.1:8000; gateway on :9999 - try: curl localhost:9999/api/v1/app"
.venv/bin/python -m proxy --config config/traefik.toml "$@"
