"""`dashboard@internal`: one small self-contained page (no CDN, no build step, works offline) that lists
the routers, services and middlewares from the API, errors included. Not Traefik's dashboard (a Vue
application we do not ship): the same information, plainly."""

from __future__ import annotations

from proxy.message import Reply, RequestHead

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>stripproxy dashboard</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;
vertical-align:top}th{background:#f4f4f4}.enabled{color:#070}.warning{color:#a60}.disabled{color:#b00}
code{font-size:.95em}.err{color:#b00;font-size:.9em}
</style></head><body>
<h1>stripproxy</h1><p id="overview">loading&hellip;</p>
<h2>HTTP routers</h2><table id="routers"><thead><tr><th>status</th><th>name</th><th>rule</th>
<th>entry points</th><th>middlewares</th><th>service</th><th>priority</th></tr></thead><tbody></tbody></table>
<h2>HTTP services</h2><table id="services"><thead><tr><th>status</th><th>name</th><th>type</th><th>servers</th>
<th>used by</th></tr></thead><tbody></tbody></table>
<h2>HTTP middlewares</h2><table id="middlewares"><thead><tr><th>status</th><th>name</th><th>type</th>
<th>used by</th></tr></thead><tbody></tbody></table>
<script>
const base = "__BASE__";
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
</script></body></html>
"""


class Dashboard:
    def __init__(self, api_base: str) -> None:
        self.body = PAGE.replace("__BASE__", api_base).encode()

    def __call__(self, req: RequestHead) -> Reply:
        return Reply(200, [("Content-Type", "text/html; charset=utf-8")], self.body)
