"""Traefik's observability: the access log, Prometheus metrics, ping, the API and its internal services.

Each piece is built from the static config only when that config asks for it. The access log and the
metrics are exchange observers (see `EntryPointRuntime.observers`): they are told of every finished
exchange and do their work off the request's path.
"""
