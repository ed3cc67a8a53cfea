"""stripproxy: a pure-Python reverse proxy that reads Traefik's configuration files."""

__version__ = "0.1.0"
