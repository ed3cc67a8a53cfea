"""basicAuth: Traefik v3 `pkg/middlewares/auth/basic_auth.go`, with the go-http-auth fork it uses
(containous/go-http-auth: CheckSecret, RequireAuth, NormalHeaders).

Credentials come from the first Authorization header (Go's Request.BasicAuth: a case-insensitive
`Basic ` then strict standard base64 of `user:password`). The user's hash decides the check, as goauth's
CheckSecret does:

* `$2a$`, `$2b$`, `$2x$`, `$2y$`: bcrypt (the `bcrypt` package; like Go's, only the first 72 bytes of the
  password count);
* `{SHA}`: base64 of SHA-1 (libpass's ldap_sha1);
* anything else is read as MD5-crypt `$magic$salt$hash`: `$apr1$` (htpasswd -m) and `$1$` (libpass);
  any other text never matches, so plain-text passwords are refused, as in Traefik.

An unknown user's password is checked against a user's hash anyway (the slowest to check: see
`not_found_secret`), so refusing an unknown name takes as long as refusing a wrong password.
On success: `headerField` (if set) carries the user name, written with the name exactly as configured
after the client's own value is removed; `removeHeader` drops Authorization. On failure: 401,
`Www-Authenticate: Basic realm="<realm>"` (Go's spelling of the name), `Content-Type: text/plain`,
body `401 Unauthorized` and a newline.

Cost: a bcrypt check takes 60-230 ms of CPU and MD5-crypt (pure Python) about half a millisecond, so
neither runs on the loop. Verified credentials are remembered (up to CACHE_SIZE per middleware, keyed by
a keyed BLAKE2 hash of the Authorization value: never the password), so a known client costs one hash
and one dict lookup, on the synchronous path. A miss is checked in a small thread pool, and only that
request waits (the plain hook returns an awaitable); identical concurrent misses share one check
(Traefik's singleflight). With only `{SHA}` hashes nothing ever waits. The cache lives as long as the
middleware: a reload (new users file, changed users) starts a new one.
"""

from __future__ import annotations

import asyncio
import binascii
import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import bcrypt
from passlib.hash import apr_md5_crypt, ldap_sha1, md5_crypt

from proxy.message import Reply, RequestHead
from proxy.middlewares.authusers import load_users
from proxy.middlewares.base import HookResult, Middleware

CACHE_SIZE = 1024
DEFAULT_REALM = "traefik"
UNAUTHORIZED_BODY = b"401 Unauthorized\n"
_BCRYPT_PREFIXES = (b"$2a$", b"$2b$", b"$2x$", b"$2y$")
_executor: ThreadPoolExecutor | None = None


def _checks() -> ThreadPoolExecutor:
    """The threads that run costly checks (two: the loop keeps a core, bcrypt releases the GIL)."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="stripproxy-auth")
    return _executor


def basic_credentials(header: str) -> tuple[bytes, bytes] | None:
    """Go's parseBasicAuth on an Authorization value (a latin-1 byte string): (user, password) or None."""
    if len(header) < 6 or header[:6].lower() != "basic ":
        return None
    encoded = header[6:]
    if len(encoded) % 4:  # Go's padded decoder wants whole quanta; strict a2b_base64 lets a stray "=" by
        return None
    try:
        decoded = binascii.a2b_base64(encoded.encode("latin-1"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        return None
    user, colon, password = decoded.partition(b":")
    return (user, password) if colon else None


def _parse_user(entry: bytes) -> tuple[bytes, bytes] | None:
    parts = entry.split(b":")
    return (parts[0], parts[1]) if len(parts) == 2 else None


def check_secret(password: bytes, secret: bytes) -> bool:
    """goauth.CheckSecret: does `password` match the htpasswd hash `secret`?"""
    try:
        if secret.startswith(_BCRYPT_PREFIXES):
            return bcrypt.checkpw(password[:72], secret)
        if secret.startswith(b"{SHA}"):
            return bool(ldap_sha1.verify(password, secret.decode("ascii")))
        parts = secret.split(b"$", 3)
        if len(parts) != 4:
            return False
        handler = {b"apr1": apr_md5_crypt, b"1": md5_crypt}.get(parts[1])
        return handler is not None and bool(handler.verify(password, secret.decode("ascii")))
    except ValueError:  # a malformed hash (bad salt, bad base64, not ASCII...) matches nothing
        return False


def _check_cost(secret: bytes) -> tuple[int, bytes]:
    """How long checking `secret` takes, to compare: bcrypt by its cost factor, then MD5-crypt, then {SHA}."""
    if secret.startswith(_BCRYPT_PREFIXES):
        return 2, secret[4:6]
    return (0, b"") if secret.startswith(b"{SHA}") else (1, b"")


def not_found_secret(users: dict[bytes, bytes]) -> bytes:
    """The hash an unknown user's password is checked against, so that refusing an unknown name takes as
    long as refusing a wrong password: Traefik takes one user's hash (the first its map yields); here the
    slowest to check of them (the highest bcrypt cost, if any), the first one among equals, so an unknown
    name is never quicker to refuse than a known one in a file that mixes kinds of hashes."""
    return max(users.values(), key=_check_cost)


def is_costly(secret: bytes) -> bool:
    """True when checking `secret` takes long enough that it must not run on the loop."""
    return not secret.startswith(b"{SHA}")


class BasicAuth(Middleware):
    """The middleware for users whose hashes are all cheap to check (`{SHA}`): never waits.

    `basic_auth()` builds this or `WaitingBasicAuth`, which checks a cache miss in a thread.
    """

    def __init__(
        self, users: dict[bytes, bytes], realm: str = "", header_field: str = "", remove_header: bool = False
    ) -> None:
        if not users:
            raise ValueError("no users found")
        self.users = users
        self.not_found_secret = not_found_secret(users)
        self.realm = realm or DEFAULT_REALM
        self.header_field = header_field
        self.remove_header = remove_header
        self.edits_request_headers = bool(header_field or remove_header)
        self._challenge_headers = [("Content-Type", "text/plain"), ("Www-Authenticate", f'Basic realm="{self.realm}"')]
        # Keyed once: a copy per request skips hashing the key block again.
        self._hasher = hashlib.blake2b(key=os.urandom(32), digest_size=16)
        self._verified: dict[bytes, str] = {}  # cache key -> user name as a latin-1 byte string
        self._pending: dict[bytes, asyncio.Future[str | None]] = {}  # checks under way (WaitingBasicAuth)

    def _key(self, header: str) -> bytes:
        hasher = self._hasher.copy()
        hasher.update(header.encode("latin-1", "replace"))
        return hasher.digest()

    def on_request(self, req: RequestHead) -> HookResult:
        header = req.headers.get("Authorization")
        if header is not None:
            key = self._key(header)
            user = self._verified.get(key)
            if user is None:
                user = self._check(header)
                if user is not None:
                    self._remember(key, user)
            if user is not None:
                req.client_username = user
                if self.edits_request_headers:
                    self._pass(req, user)
                return None
        return self.refuse(req, header)

    def _check(self, header: str) -> str | None:
        """The user name when `header` holds valid credentials (may take long: see WaitingBasicAuth)."""
        credentials = basic_credentials(header)
        if credentials is None:
            return None
        user, password = credentials
        secret = self.users.get(user)
        if not secret:  # Traefik checks an unknown user against some hash too: the same time either way
            check_secret(password, self.not_found_secret)
            return None
        return user.decode("latin-1") if check_secret(password, secret) else None

    def _remember(self, key: bytes, user: str) -> None:
        verified = self._verified
        if len(verified) >= CACHE_SIZE:
            del verified[next(iter(verified))]  # the oldest entry
        verified[key] = user

    def refuse(self, req: RequestHead, header: str | None) -> Reply:
        """The challenge; the user the client tried is still the access log's ClientUsername (basic_auth.go)."""
        credentials = basic_credentials(header) if header is not None else None
        if credentials is not None:
            req.client_username = credentials[0].decode("latin-1")
        return self.challenge()

    def _pass(self, req: RequestHead, user: str) -> None:
        if self.header_field:
            req.headers.remove(self.header_field)
            req.headers.add(self.header_field, user)
        if self.remove_header:
            req.headers.remove("Authorization")

    def challenge(self) -> Reply:
        return Reply(401, list(self._challenge_headers), UNAUTHORIZED_BODY)


class WaitingBasicAuth(BasicAuth):
    """basicAuth with costly hashes: a remembered client passes at once, on the synchronous path; a miss
    is checked in a thread, and only that request waits: the plain hook returns an awaitable then, which
    the forwarder runs in a task (proxy.middlewares.base)."""

    def on_request(self, req: RequestHead) -> HookResult:
        header = req.headers.get("Authorization")
        if header is None:
            return self.challenge()
        key = self._key(header)
        user = self._verified.get(key)
        if user is None:
            credentials = basic_credentials(header)
            if credentials is None:
                return self.challenge()
            if is_costly(self.users.get(credentials[0]) or self.not_found_secret):
                return asyncio.ensure_future(self._checked(req, key, header))
            user = self._check(header)
            if user is None:
                return self.refuse(req, header)
            self._remember(key, user)
        req.client_username = user
        if self.edits_request_headers:
            self._pass(req, user)
        return None

    async def _checked(self, req: RequestHead, key: bytes, header: str) -> Reply | None:
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.get_running_loop().run_in_executor(_checks(), self._check, header)
            self._pending[key] = pending
            pending.add_done_callback(self._settled(key))
        # A client that leaves cancels its own wait, not the check others may share.
        user = await asyncio.shield(pending)
        if user is None:
            return self.refuse(req, header)
        req.client_username = user
        if self.edits_request_headers:
            self._pass(req, user)
        return None

    def _settled(self, key: bytes) -> Callable[[asyncio.Future[str | None]], None]:
        def done(future: asyncio.Future[str | None]) -> None:
            del self._pending[key]
            if not future.cancelled() and future.exception() is None:
                user = future.result()
                if user is not None:
                    self._remember(key, user)

        return done


def basic_auth(
    users: Sequence[str] = (),
    users_file: str = "",
    realm: str = "",
    header_field: str = "",
    remove_header: bool = False,
) -> BasicAuth:
    """Build the middleware from Traefik's options; ValueError for what Traefik refuses."""
    table = load_users(users_file, users, _parse_user, "BasicUser")
    if not table:
        raise ValueError(f"no users found in {users_file!r}" if users_file else "no users found")
    kind = WaitingBasicAuth if any(is_costly(secret) for secret in table.values()) else BasicAuth
    return kind(table, realm, header_field, remove_header)
