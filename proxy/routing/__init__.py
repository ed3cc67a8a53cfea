"""Route tables: routers in Traefik's priority order, indexed by host and path prefix."""

from proxy.routing.table import Route, RouteTable

__all__ = ["Route", "RouteTable"]
