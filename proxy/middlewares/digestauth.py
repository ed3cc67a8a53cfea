"""digestAuth: Traefik v3 `pkg/middlewares/auth/digest_auth.go`, with the go-http-auth fork it uses
(containous/go-http-auth digest.go, misc.go: RFC 2617 MD5 with qop=auth only).

Users are `name:realm:HA1` (htdigest's format, HA1 = md5("name:realm:password")); the one looked up is
`name:<configured realm>`. A challenge is a 401 with
`Www-Authenticate: Digest realm="R", nonce="N", opaque="O", algorithm="MD5", qop="auth"`,
`Content-Type: text/plain` and the body `401 Unauthorized` and a newline. The nonce is fresh for each
challenge (12 random bytes, base64) and remembered (about 1,000 of them; the 200 least recently used go
when 1,100 are held); the opaque value is drawn once per middleware. An answer is accepted when:
it is `Digest ` + pairs with the middleware's opaque, algorithm MD5 (or none) and qop auth; its `uri`
is the request-target, or a prefix of the request's decoded path (goauth allows that); its response
matches; its nonce is one the middleware issued; and its nonce count (hex) is above the last one seen
for that nonce. A count below it gets a challenge with `stale="true"`; the same count again (a replay),
a plain challenge. As in goauth, a nonce whose count was never above 0 takes count 0 again.

Where we differ, on purpose (README): Traefik accepts an answer for a user it does not know, computed
with an empty HA1 (goauth never checks that the user exists): here an unknown user is refused, after the
same hashing as a known user with a wrong password (against a random HA1), so timing does not tell them apart. A pair
with an empty value (`nonce=`) or a lone `"` makes goauth panic (Traefik answers 500): here it reads as
empty, and the request is challenged.

With `--workers N`, nonces are per worker process; a keep-alive connection stays with one worker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Sequence

from proxy.message import Reply, RequestHead
from proxy.middlewares.authusers import load_users
from proxy.middlewares.base import Middleware
from proxy.rules.request_view import regexp_subject
from proxy.urlpath import unescape

DEFAULT_REALM = "traefik"
UNAUTHORIZED_BODY = b"401 Unauthorized\n"
CLIENT_CACHE_SIZE = 1000  # goauth's DefaultClientCacheSize
CLIENT_CACHE_TOLERANCE = 100  # and DefaultClientCacheTolerance
_GO_SPACE = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)


def random_key() -> str:
    """goauth.RandomKey: 12 random bytes in base64 (16 characters)."""
    return base64.b64encode(os.urandom(12)).decode()


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogateescape")).hexdigest()


def parse_list(value: str) -> list[str]:
    """goauth.ParseList (from urllib2's parse_http_list): comma-separated, quotes kept, `\\` escapes
    inside quotes, each element trimmed."""
    items: list[str] = []
    part: list[str] = []
    escape = quote = False
    for char in value:
        if escape:
            part.append(char)
            escape = False
        elif quote:
            if char == "\\":
                escape = True
            else:
                quote = char != '"'
                part.append(char)
        elif char == ",":
            items.append("".join(part).strip(_GO_SPACE))
            part = []
        else:
            quote = char == '"'
            part.append(char)
    if part:
        items.append("".join(part).strip(_GO_SPACE))
    return items


def digest_params(header: str) -> dict[str, str] | None:
    """goauth.DigestAuthParams: the pairs of a `Digest ...` Authorization value, values unquoted."""
    scheme, space, rest = regexp_subject(header).partition(" ")
    if not space or scheme != "Digest":
        return None
    params: dict[str, str] = {}
    for pair in parse_list(rest.strip(_GO_SPACE)):
        name, equals, value = pair.partition("=")
        if not equals:
            params[pair] = ""
            continue
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        params[name] = value
    return params


def _url_path(uri: str) -> str | None:
    """The decoded path of `uri` as Go's url.Parse gives it; None where it errors."""
    rest = uri.split("#", 1)[0].split("?", 1)[0]
    if "://" in rest:  # absolute: the path starts after the authority
        after = rest.split("://", 1)[1]
        rest = after[after.find("/") :] if "/" in after else ""
    try:
        return unescape(rest)
    except ValueError:
        return None


def _parse_hex_count(text: str) -> int | None:
    """strconv.ParseUint(text, 16, 64)."""
    if not text or not all(c in "0123456789abcdefABCDEF" for c in text):
        return None
    value = int(text, 16)
    return value if value < 1 << 64 else None


def _parse_user(entry: bytes) -> tuple[bytes, bytes] | None:
    parts = entry.split(b":")
    return (parts[0] + b":" + parts[1], parts[2]) if len(parts) == 3 else None


class DigestAuth(Middleware):
    per_router = True  # its nonces, as in Traefik, which builds a middleware for each router using it

    def __init__(
        self, users: dict[bytes, bytes], realm: str = "", header_field: str = "", remove_header: bool = False
    ) -> None:
        self.realm = realm or DEFAULT_REALM
        # "name:realm" (text, as the Authorization pairs are read) -> HA1
        self.users = {
            key.decode("utf-8", "surrogateescape"): ha1.decode("utf-8", "surrogateescape") for key, ha1 in users.items()
        }
        self.header_field = header_field
        self.remove_header = remove_header
        self.edits_request_headers = bool(header_field or remove_header)
        self.opaque = random_key()
        self._dummy_ha1 = _md5(random_key())  # what an unknown user is checked against (see _check)
        self._clients: dict[str, list[float]] = {}  # nonce -> [last nonce count, last seen (monotonic)]

    def on_request(self, req: RequestHead) -> Reply | None:
        checked = self._check(req)
        if isinstance(checked, str):
            req.client_username = checked  # the access log's ClientUsername (digest_auth.go)
            if self.header_field:
                req.headers.remove(self.header_field)
                req.headers.add(self.header_field, checked.encode("utf-8", "surrogateescape").decode("latin-1"))
            if self.remove_header:
                req.headers.remove("Authorization")
            return None
        # Refused: the user name the client sent is still logged. (Traefik reads it from the header named by
        # headerField when one is set, the header it writes the user to: we read Authorization, which the
        # client sent it in.)
        params = digest_params(req.headers.get("Authorization") or "")
        if params is not None and params.get("username"):
            req.client_username = params["username"]
        return self.challenge(stale=checked)

    def _check(self, req: RequestHead) -> str | bool:
        """The user name when the request's answer is good, else whether the refusal is `stale`."""
        params = digest_params(req.headers.get("Authorization") or "")
        if params is None:
            return False
        params.setdefault("algorithm", "MD5")
        get = params.get
        if get("opaque", "") != self.opaque or params["algorithm"] != "MD5" or get("qop", "") != "auth":
            return False
        uri = get("uri", "")
        if req.target.encode("latin-1", "replace") != uri.encode("utf-8", "surrogateescape"):
            wanted, path = _url_path(uri), _url_path(req.path)
            if wanted is None or path is None or not path.startswith(wanted):
                return False
        username = get("username", "")
        known = self.users.get(f"{username}:{self.realm}", "") if username else ""
        # An unknown user costs what a known one with a wrong password does: the same two hashes and the
        # comparison, against a dummy HA1 nobody knows (goauth goes on with an empty HA1, which anyone can
        # answer for: an open door, shut here).
        ha1 = known or self._dummy_ha1
        nonce, nc, cnonce, qop = get("nonce", ""), get("nc", ""), get("cnonce", ""), get("qop", "")
        ha2 = _md5(f"{req.method}:{uri}")
        expected = _md5(":".join((ha1, nonce, nc, cnonce, qop, ha2)))
        matches = hmac.compare_digest(expected.encode(), get("response", "").encode("utf-8", "surrogateescape"))
        if not (matches and known):
            return False
        count = _parse_hex_count(nc)
        client = self._clients.get(nonce)
        if count is None or client is None:
            return False
        last = client[0]
        if last != 0:
            if count == last:
                return False  # a replay
            if count < last:
                return True  # out of order: stale, the client may answer again without asking its user
        client[0] = count
        client[1] = time.monotonic()
        return username

    def challenge(self, stale: bool = False) -> Reply:
        clients = self._clients
        if len(clients) > CLIENT_CACHE_SIZE + CLIENT_CACHE_TOLERANCE:
            oldest = sorted(clients, key=lambda nonce: clients[nonce][1])[: CLIENT_CACHE_TOLERANCE * 2]
            for nonce in oldest:
                del clients[nonce]
        nonce = random_key()
        clients[nonce] = [0, time.monotonic()]
        value = f'Digest realm="{self.realm}", nonce="{nonce}", opaque="{self.opaque}", '
        value += ('stale="true", ' if stale else "") + 'algorithm="MD5", qop="auth"'
        return Reply(401, [("Content-Type", "text/plain"), ("Www-Authenticate", value)], UNAUTHORIZED_BODY)


def digest_auth(
    users: Sequence[str] = (),
    users_file: str = "",
    realm: str = "",
    header_field: str = "",
    remove_header: bool = False,
) -> DigestAuth:
    """Build the middleware from Traefik's options (no users is allowed: every request is challenged)."""
    return DigestAuth(load_users(users_file, users, _parse_user, "DigestUser"), realm, header_field, remove_header)
