"""`python -m proxy explain` and `python -m proxy routes`: what the gateway would do, and its routing table,
from the configuration alone (nothing is bound; only what a middleware asks on its own, such as
forwardAuth's server, is contacted, as the gateway would)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from proxy.server.gateway import Gateway
from proxy.server.trace import Trace, run_trace


def pick_entry_point(gateway: Gateway, url: str, name: str | None) -> str:
    """The entry point named, else the one whose port the URL names, else the only one."""
    entry_points = gateway.entry_point_servers
    if name:
        if name not in entry_points:
            raise ValueError(f"no entry point {name!r} (there are: {', '.join(entry_points)})")
        return name
    port = urlsplit(url).port
    by_port = [ep for ep, server in entry_points.items() if port is not None and server.port == port]
    if len(by_port) == 1:
        return by_port[0]
    if len(entry_points) == 1:
        return next(iter(entry_points))
    raise ValueError(
        f"which entry point? the URL's port matches none of {', '.join(entry_points)}: give --entrypoint NAME"
    )


def explain_text(result: Trace) -> str:
    lines = [f"{result.method} {result.target} (Host {result.host!r}) on entry point {result.entry_point!r}"]
    changes = [f"+ {name}: {value}" for name, value in result.forwarded_added]
    changes += [f"- {name}: {value} (not from a trusted IP)" for name, value in result.forwarded_removed]
    if changes:
        lines.append(f"entry point's forwarded headers: {'; '.join(changes)}")
    if result.verdicts:
        lines.append(f"routers, in Traefik's order, for path {result.routed_path!r}:")
        chosen = False
        for verdict in result.verdicts:
            mark = "did not match"
            if verdict.matched:
                mark = "matched: chosen" if not chosen else "matched too (lower in the order: not used)"
                chosen = True
            lines.append(f"  {verdict.router} (priority {verdict.priority}) `{verdict.rule}`: {mark}")
    elif not result.answer or result.answer.status != 400:
        lines.append("no router on this entry point")
    if result.router:
        names = f" {list(result.middlewares)}" if result.middlewares else " (none)"
        lines.append(f"router {result.router}, middlewares{names}:")
        for number, step in enumerate(result.steps, 1):
            what = []
            if step.path_before != step.path_after:
                what.append(f"path {step.path_before!r} -> {step.path_after!r}")
            what += [f"+ {name}: {value}" for name, value in step.added]
            what += [f"- {name}: {value}" for name, value in step.removed]
            if step.answer is not None:
                what.append(f"answers {step.answer.status} itself")
            waited = " (waited)" if step.waited else ""
            lines.append(f"  {number}. {step.middleware}{waited}: {'; '.join(what) or 'no change'}")
    if result.answer is not None:
        reply = result.answer
        lines.append(f"the gateway answers {reply.status}" + (f" ({result.detail})" if result.detail else ""))
        lines += [f"  {name}: {value}" for name, value in reply.headers]
        if reply.body:
            lines.append(f"  body: {reply.body[:200]!r}")
    elif result.server:
        lines.append(f"service {result.service!r} -> server {result.server}; the upstream receives:")
        lines += ["  " + line for line in (result.upstream_head or "").rstrip("\r\n").split("\r\n")]
    return "\n".join(lines)


def explain(
    gateway: Gateway, method: str, url: str, headers: list[str], entry_point: str | None, client_ip: str
) -> str:
    pairs = []
    for header in headers:
        name, colon, value = header.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"-H {header!r}: expected 'Name: value'")
        pairs.append((name.strip(), value.strip()))
    name = pick_entry_point(gateway, url, entry_point)
    server = gateway.entry_point_servers[name]
    # An https:// URL is a TLS connection: the entry point's TLS routers serve it.
    tls_runtime = server.tls_runtime
    runtime = tls_runtime if tls_runtime is not None and url.lower().startswith("https://") else server.runtime
    return explain_text(run_trace(runtime, method, url, pairs, client_ip))


def routes(gateway: Gateway) -> list[dict[str, Any]]:
    """Every enabled router per entry point, in Traefik's order, with its service's servers; then the
    disabled ones with why."""
    servers = gateway.services
    rows: list[dict[str, Any]] = []
    for ep, server in gateway.entry_point_servers.items():
        tls_routes = server.tls_runtime.table.routes if server.tls is not None and server.tls_runtime else ()
        for tls, route in [*((False, r) for r in server.runtime.table.routes), *((True, r) for r in tls_routes)]:
            plan = route.target
            row = {
                "entryPoint": ep,
                "router": route.name,
                "priority": route.priority,
                "rule": route.rule.text,
                "middlewares": list(plan.middleware_names),
                "service": plan.service_name,
                "servers": servers.get(plan.service_name, []),
                "status": "enabled",
            }
            if tls:
                row["tls"] = True  # served on TLS connections only
            rows.append(row)
    for problem in gateway.last_build.problems if gateway.last_build else ():
        if problem.kind == "router" and problem.level == "error":
            rows.append({"entryPoint": None, "router": problem.name, "status": "disabled", "error": problem.message})
    return rows


def routes_text(rows: list[dict[str, Any]]) -> str:
    enabled = [row for row in rows if row["status"] == "enabled"]
    table = [("ENTRY POINT", "PRIORITY", "ROUTER", "RULE", "MIDDLEWARES", "SERVICE", "SERVERS")]
    table += [
        (
            row["entryPoint"],
            str(row["priority"]),
            row["router"] + (" (tls)" if row.get("tls") else ""),
            row["rule"],
            ", ".join(row["middlewares"]) or "-",
            row["service"],
            ", ".join(row["servers"]) or "-",
        )
        for row in enabled
    ]
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip() for line in table]
    lines += [f"disabled: {row['router']}: {row['error']}" for row in rows if row["status"] == "disabled"]
    return "\n".join(lines)


def routes_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, indent=2)
