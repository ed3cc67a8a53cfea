"""`dashboard@internal`: one small self-contained page (no CDN, no build step, works offline) that lists
the routers, services and middlewares from the API, errors included, and the requests going through the
gateway as they finish (an event stream; a click on one shows its explain view: see live.py). Not
Traefik's dashboard (a Vue application we do not ship): the same information, plainly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from proxy.message import Reply, RequestHead

if TYPE_CHECKING:
    from proxy.observability.live import LiveView

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stripproxy dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.enabled{color:#070}.warning{color:#a60}.disabled{color:#b00}
code{font-size:.95em}.err{color:#b00;font-size:.9em}
#live tbody tr{cursor:pointer}#live tbody tr:hover{background:#eef4ff}#live tbody tr.chosen{background:#dde8ff}
#live td{font-family:ui-monospace,monospace;font-size:.9em;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;
max-width:22em}.s2{color:#070}.s3{color:#06a}.s4{color:#a60}.s5{color:#b00}.num{text-align:right}
#state{font-size:.85em;padding:.1em .5em;border-radius:.8em;background:#eee}#state.on{background:#dfd;color:#060}
#explain{border:1px solid #bcd;background:#f7faff;padding:.6em 1em;margin:.8em 0}
#explain pre{white-space:pre-wrap;margin:.4em 0;font-size:.9em}.muted{color:#777}
</style></head><body>
<h1>stripproxy</h1><p id="overview">loading&hellip;</p>
<h2>Recent requests <span id="state">connecting</span></h2>
<div id="explain" hidden><strong id="explain-title"></strong> <a href="#" id="explain-close">close</a>
<pre id="explain-text"></pre></div>
<table id="live"><thead><tr><th>time</th><th>method</th><th>path</th><th>router</th><th>sent upstream</th>
<th>status</th><th class="num">ms</th><th>server</th></tr></thead><tbody></tbody></table>
<p id="live-empty" class="muted">no request yet: send one through the gateway</p>
<h2>HTTP routers</h2><table id="routers"><thead><tr><th>status</th><th>name</th><th>rule</th>
<th>entry points</th><th>middlewares</th><th>service</th><th>priority</th></tr></thead><tbody></tbody></table>
<h2>HTTP services</h2><table id="services"><thead><tr><th>status</th><th>name</th><th>type</th><th>servers</th>
<th>used by</th></tr></thead><tbody></tbody></table>
<h2>HTTP middlewares</h2><table id="middlewares"><thead><tr><th>status</th><th>name</th><th>type</th>
<th>used by</th></tr></thead><tbody></tbody></table>
<script>
const base = "__BASE__";
const LIVE_ROWS = 200;
function esc(v){return String(v ?? "").replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
function status(o){let s=`<span class="${esc(o.status)}">${esc(o.status)}</span>`;
  for(const e of o.error||[]) s+=`<div class="err">${esc(e)}</div>`; return s}
function fill(id, rows){document.querySelector(`#${id} tbody`).innerHTML = rows.map(
  cells=>"<tr>"+cells.map(c=>`<td>${c}</td>`).join("")+"</tr>").join("")}
async function get(path){const r = await fetch(base + path); return r.json()}
async function load(){
  const [ov, routers, services, middlewares] = await Promise.all([get("/api/overview"),
    get("/api/http/routers"), get("/api/http/services"), get("/api/http/middlewares")]);
  const h = ov.http;
  document.getElementById("overview").textContent =
    `routers ${h.routers.total} (${h.routers.errors} disabled, ${h.routers.warnings} warnings), ` +
    `services ${h.services.total}, middlewares ${h.middlewares.total}`;
  fill("routers", routers.map(r=>[status(r), esc(r.name), `<code>${esc(r.rule)}</code>`,
    esc((r.using||r.entryPoints||[]).join(", ")), esc((r.middlewares||[]).join(", ")), esc(r.service),
    esc(r.priorityStr)]));
  fill("services", services.map(s=>[status(s), esc(s.name), esc(s.type),
    Object.entries(s.serverStatus||{}).map(([u,st])=>`${esc(u)} ${esc(st)}`).join("<br>"),
    esc((s.usedBy||[]).join(", "))]));
  fill("middlewares", middlewares.map(m=>[status(m), esc(m.name), esc(m.type), esc((m.usedBy||[]).join(", "))]));
}
load().catch(e=>{document.getElementById("overview").textContent = "cannot load the API: " + e});

const live = document.querySelector("#live tbody"), state = document.getElementById("state");
function clock(ms){const d = new Date(ms);
  return d.toTimeString().slice(0,8) + "." + String(d.getMilliseconds()).padStart(3,"0")}
function addRow(e){
  if (live.querySelector(`tr[data-id="${e.id}"]`)) return;
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  tr.title = e.detail || "";
  tr.innerHTML = [clock(e.time), esc(e.method), esc(e.target), esc(e.router ?? "(none)"),
    esc(e.upstream ?? "(answered by the gateway)"), `<span class="s${Math.floor(e.status/100)}">${e.status}</span>`,
    e.ms.toFixed(1), esc(e.server ?? "")].map((c,i)=>`<td${i==6?' class="num"':""}>${c}</td>`).join("");
  tr.addEventListener("click", ()=>explain(e, tr));
  live.prepend(tr);
  while (live.rows.length > LIVE_ROWS) live.deleteRow(-1);
  document.getElementById("live-empty").hidden = true;
}
async function explain(e, tr){
  for (const row of live.querySelectorAll("tr.chosen")) row.classList.remove("chosen");
  tr.classList.add("chosen");
  const box = document.getElementById("explain");
  document.getElementById("explain-title").textContent = `#${e.id} ${e.method} ${e.target} -> ${e.status}`;
  const text = document.getElementById("explain-text");
  text.textContent = "explaining\u2026";
  box.hidden = false;
  try {
    const r = await fetch("explain?id=" + e.id), x = await r.json();
    text.textContent = r.ok ? x.text : x.message;
  } catch (err) { text.textContent = "cannot explain: " + err }
}
document.getElementById("explain-close").addEventListener("click", ev=>{ev.preventDefault();
  document.getElementById("explain").hidden = true});
const events = new EventSource("live");
events.onopen = ()=>{state.textContent = "live"; state.className = "on"};
events.onerror = ()=>{state.textContent = "reconnecting"; state.className = ""};
events.onmessage = ev=>addRow(JSON.parse(ev.data));
</script></body></html>
"""


class Dashboard:
    """The page, and the live view's event stream (`live`), recent list (`live.json`) and explain view
    (`explain?id=N`) next to it: relative to the page, so they sit behind the very router (and its
    middlewares: basicAuth...) that serves the page."""

    def __init__(self, api_base: str, live: LiveView | None = None) -> None:
        self.body = PAGE.replace("__BASE__", api_base).encode()
        self.live = live

    def __call__(self, req: RequestHead) -> Any:
        return self.answer(req, req.path)

    def answer(self, req: RequestHead, path: str) -> Any:
        """`path`: below the dashboard's own path (`/` is the page)."""
        if path in ("", "/", "/index.html"):
            if req.method not in ("GET", "HEAD"):
                return Reply(405)
            return Reply(200, [("Content-Type", "text/html; charset=utf-8")], self.body)
        live = self.live
        if live is not None and req.method in ("GET", "HEAD"):
            if path == "/live":
                return live.stream(req)
            if path == "/live.json":
                return live.recent(req)
            if path == "/explain":
                return live.explain(req)  # a coroutine: the forwarder awaits it (see dispatch)
        return Reply.text(404, "404 page not found")
