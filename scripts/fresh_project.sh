#!/usr/bin/env bash
# The pytest plugin as a new user meets it: the wheel and sdist built from this checkout, the wheel installed
# with its `pytest` and `asgi` extras (and what the examples use: httpx, requests, flask) into a fresh venv,
# in a project folder of its own (no `proxy/` beside it), then: the README's examples in pytest-asyncio's auto
# mode, a test in strict mode, and the plugin's own tests against the installed wheel.
# bash scripts/fresh_project.sh  (PYTHON: the interpreter that builds)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
python=${PYTHON:-$repo/.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
wheel=$(ls "$work"/dist/*.whl)
ls "$work"/dist/*.tar.gz >/dev/null  # the sdist too
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "stripproxy[pytest,asgi,tls] @ file://$wheel" httpx requests flask >"$work/pip.log" 2>&1 \
  || { cat "$work/pip.log"; exit 1; }

# A user's project: the FastAPI guide's config files, the README's examples, pyproject in auto mode.
project=$work/project
mkdir -p "$project/tests/testing"
cp -r "$repo/config" "$project/config"
cp "$repo/README.md" "$project/"
cp "$repo"/tests/testing/*.py "$project/tests/testing/"
cat >"$project/pyproject.toml" <<'EOF'
[tool.pytest.ini_options]
asyncio_mode = "auto"
asyncio_default_fixture_loop_scope = "function"
EOF
echo "fresh project, auto mode: the README's examples and the plugin's own tests, against the installed wheel"
(cd "$project" && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider tests/testing)
(cd "$project" && "$work/venv/bin/python" -c "import proxy, sys; sys.exit('proxy imported from ' + proxy.__file__ if '$repo' in proxy.__file__ else 0)")

# The same fixtures in pytest-asyncio's default strict mode, each async test marked.
strict=$work/strict
mkdir -p "$strict"
cp -r "$repo/config" "$strict/config"
cat >"$strict/test_strict.py" <<'EOF'
import aiohttp
import pytest
from aiohttp import web


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=request.path)


@pytest.mark.asyncio
async def test_stripproxy_in_strict_mode(serve_app, stripproxy):
    app = web.Application()
    app.router.add_get("/app", hello)
    served = await serve_app(app)
    gateway = await stripproxy("config/routes.toml", services={"app": served.url})
    async with aiohttp.ClientSession() as client, client.get(gateway.url + "/api/v1/app") as response:
        assert await response.text() == "/app"
EOF
echo "fresh project, strict mode"
(cd "$strict" && "$work/venv/bin/python" -m pytest -q -p no:cacheprovider -o asyncio_mode=strict -o asyncio_default_fixture_loop_scope=function test_strict.py)
