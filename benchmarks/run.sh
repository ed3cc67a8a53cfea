#!/usr/bin/env bash
# Side-by-side benchmark: bash benchmarks/run.sh [--quick]
# Installs the tools if missing (Debian/Ubuntu apt), then runs benchmarks/harness.py, which starts every
# process itself (pinned with taskset), stops each by pid, and writes benchmarks/RESULTS.md + results.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

notes=()
apt_updated=0
have() { command -v "$1" >/dev/null 2>&1; }
install() {  # install <command> <package...>: try each package in turn; apt-get update once if needed
  local cmd=$1; shift
  have "$cmd" && return 0
  if ! have apt-get || [ "$(id -u)" != 0 ]; then
    notes+=("$cmd missing and cannot be installed here (needs root + apt-get)"); return 1
  fi
  for pkg in "$@"; do
    apt-get install -y -q --no-install-recommends "$pkg" >/dev/null 2>&1 && have "$cmd" && return 0
    if [ "$apt_updated" = 0 ]; then
      apt_updated=1; apt-get update -q >/dev/null 2>&1 || true
      apt-get install -y -q --no-install-recommends "$pkg" >/dev/null 2>&1 && have "$cmd" && return 0
    fi
  done
  notes+=("$cmd could not be installed (tried: $*)"); return 1
}

for tool in wrk:wrk h2load:nghttp2-client curl:curl taskset:util-linux; do
  install "${tool%%:*}" "${tool#*:}" || { echo "required tool ${tool%%:*} is missing" >&2; exit 1; }
done
install nginx nginx-light nginx || { echo "nginx is required (it is the origin)" >&2; exit 1; }
# The origin's upload sink must read the whole body before answering (else the upload rows measure nothing):
# nginx's echo module does that.
echo_module=/usr/lib/nginx/modules/ngx_http_echo_module.so
if [ ! -f "$echo_module" ] && have apt-get && [ "$(id -u)" = 0 ]; then
  apt-get install -y -q --no-install-recommends libnginx-mod-http-echo >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q --no-install-recommends libnginx-mod-http-echo >/dev/null 2>&1; } || true
fi
[ -f "$echo_module" ] || { echo "nginx's echo module ($echo_module, Debian's libnginx-mod-http-echo) is required:" \
                                "without it the upload sink answers before reading the body" >&2; exit 1; }
install caddy caddy || echo "skipping Caddy: not installable" >&2
install haproxy haproxy || echo "skipping HAProxy: not installable" >&2

if [ "$(nproc)" -lt 2 ]; then echo "needs at least 2 CPUs (proxy on core 0, origin + load on core 1)" >&2; exit 1; fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import proxy, aiohttp, httptools, bcrypt" 2>/dev/null || .venv/bin/pip install -q -e .

ulimit -n 65536 2>/dev/null || { ulimit -n "$(ulimit -Hn)"; notes+=("open files limited to $(ulimit -n) (hard limit; 65536 could not be set)"); }
printf -v joined '%s\n' "${notes[@]+"${notes[@]}"}"
exec .venv/bin/python benchmarks/harness.py --notes "$joined" "$@"
