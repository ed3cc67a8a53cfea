"""What `middlewares={"name": None}` puts in a test gateway in place of a middleware a test cannot have
(an SSO forwardAuth, an IP allow list for the office): it does nothing, and the route plan says so."""

from __future__ import annotations

from proxy.middlewares.base import Middleware


class PassThrough(Middleware):
    has_request_hook = False
