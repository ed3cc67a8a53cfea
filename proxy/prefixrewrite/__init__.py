"""Rewriting answers of apps behind a stripped prefix (ours, not Traefik's: issue #14)."""
