"""Shared by the observability tests (a module of its own: `conftest` names clash across test folders)."""

ROUTES = """
[http.routers.app]
rule = "PathPrefix(`/app`)"
service = "app"
entryPoints = ["web"]

[http.routers.broken]
rule = "PathPrefix(`/broken`)"
service = "missing"
entryPoints = ["web"]

[http.services.app.loadBalancer]
[[http.services.app.loadBalancer.servers]]
url = "http://127.0.0.1:1"
"""


def routes_with(extra: str) -> str:
    return ROUTES + extra
