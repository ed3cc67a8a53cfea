"""rateLimit's redis store: the same token bucket, kept in redis so several gateway processes share it.

Sources (traefik/traefik): pkg/middlewares/ratelimiter/redis_limiter.go (client options, the script's
arguments: rate per microsecond, burst, ttl, now in microseconds, max delay in microseconds),
lua.go (what the script does). The script below is ours and does the same: refill the bucket for the time
since its last use (never above burst), take a token, work out the wait, give the token back when the wait
is over max_delay, store (last, tokens) in a hash under `rate:<middleware>:<source>` that expires after
`ttl` seconds. The wait is computed in redis from the caller's clock, as in Traefik.

Connections: redis.asyncio with a blocking pool (one endpoint), or a RedisCluster client (several
endpoints: go-redis's UniversalClient makes a cluster client of them), created on first use on the running
loop and closed when the gateway stops or reloads.
"""

from __future__ import annotations

import time
from typing import Any

from proxy.middlewares.clienttls import pem_path
from proxy.netutil import split_host_port

KEY_PREFIX = "rate:"

TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local max_delay = tonumber(ARGV[5])

local state = redis.call('HMGET', KEYS[1], 'last', 'tokens')
local last = tonumber(state[1])
local tokens = tonumber(state[2])
if last == nil or tokens == nil then
  last = 0
  tokens = 0
end
if now < last then
  last = now
end

tokens = math.min(tokens + rate * (now - last), burst) - 1
local delay = 0
if tokens < 0 then
  delay = -tokens / rate
  if delay > max_delay then
    tokens = math.min(tokens + 1, burst)
  end
end

redis.call('HSET', KEYS[1], 'last', string.format('%.0f', now), 'tokens', string.format('%.17g', tokens))
redis.call('EXPIRE', KEYS[1], ttl)
return {'true', string.format('%.17g', delay), string.format('%.17g', tokens)}
"""


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """ "host:port" (Go's net.SplitHostPort form, "[::1]:6379" for IPv6) -> (host, port)."""
    split = split_host_port(endpoint)
    if split is None or not split[1].isdigit():
        raise ValueError(f"redis.endpoints: {endpoint!r} is not host:port")
    return split[0] or "localhost", int(split[1])


def _timeout(value: float | None) -> float | None:
    """go-redis: an unset timeout keeps its default, zero or less means none."""
    return value if value and value > 0 else None


class RedisBuckets:
    def __init__(self, limits: Any, options: Any, name: str) -> None:
        if not options.endpoints:
            raise ValueError("redis.endpoints: no endpoint given")
        # As go-redis's UniversalClient: one address is a plain server, several are a Redis Cluster's seeds.
        self.nodes = [split_endpoint(endpoint) for endpoint in options.endpoints]
        self.cluster = len(self.nodes) > 1
        self.host, self.port = self.nodes[0]
        self.rate_per_us = limits.rate / 1_000_000
        self.burst = limits.burst
        self.ttl = limits.ttl
        self.max_delay_us = limits.max_delay // 1000
        read, write = _timeout(options.read_timeout), _timeout(options.write_timeout)
        socket_timeout = None if read is None or write is None else max(read, write)
        # Options not acted on as Traefik would, "key.path: what happens instead" (reported by the builder
        # with the middleware's file and key path; --strict refuses them).
        self.warnings: list[str] = []
        if read != write:
            self.warnings.append(
                "redis.writeTimeout: the redis client applies one socket timeout to reads and writes; using "
                f"the longer one ({'none' if socket_timeout is None else f'{socket_timeout}s'})"
            )
        for key, value in (("poolSize", options.pool_size), ("minIdleConns", options.min_idle_conns)):
            if value:
                self.warnings.append(
                    f"redis.{key}: {value} is not acted on: the redis client keeps every connection it opened "
                    "for reuse and opens them on demand"
                )
        if self.cluster and options.db:
            self.warnings.append(f"redis.db: {options.db} is not acted on: a Redis Cluster has only database 0")
        self.kwargs: dict[str, Any] = {
            "username": options.username or None,
            "password": options.password or None,
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": _timeout(options.dial_timeout),
            "max_connections": options.max_active_conns if options.max_active_conns > 0 else 10_000,
        }
        if not self.cluster:
            self.kwargs.update(
                host=self.host, port=self.port, db=options.db, timeout=(socket_timeout or 3.0) + 1.0
            )  # go-redis PoolTimeout: read + 1s
        self.tls = _tls_kwargs(options.tls) if options.tls is not None else None
        self._client: Any = None
        self._script: Any = None
        # Wall-clock microseconds, as Traefik passes time.Now().UnixMicro(): every process must agree on it.
        self.clock_us: Any = lambda: time.time_ns() // 1000

    def _connect(self) -> None:
        import redis.asyncio as aioredis

        if self.cluster:
            from redis.asyncio.cluster import ClusterNode, RedisCluster

            tls = {"ssl": True, **self.tls} if self.tls is not None else {}
            self._client = RedisCluster(
                startup_nodes=[ClusterNode(host, port) for host, port in self.nodes], **self.kwargs, **tls
            )
        else:
            from redis.asyncio.connection import SSLConnection

            tls = {"connection_class": SSLConnection, **self.tls} if self.tls is not None else {}
            self._client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool(**self.kwargs, **tls))
        self._script = self._client.register_script(TOKEN_BUCKET_LUA)

    async def take(self, source: str) -> int:
        """Reserve a token; the wait in nanoseconds (over max delay: refused, token not taken)."""
        if self._client is None:
            self._connect()
        now_us = self.clock_us()
        result = await self._script(
            keys=[KEY_PREFIX + source], args=[repr(self.rate_per_us), self.burst, self.ttl, now_us, self.max_delay_us]
        )
        delay_us = float(result[1].decode() if isinstance(result[1], bytes) else result[1])
        return int(delay_us * 1000)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
            if not self.cluster:
                await client.connection_pool.disconnect()


def _tls_kwargs(tls: Any) -> dict[str, Any]:
    if bool(tls.cert) != bool(tls.key):
        raise ValueError("redis.tls: both TLS cert and key must be defined")
    kwargs: dict[str, Any] = {}
    if tls.insecure_skip_verify:
        kwargs.update(ssl_cert_reqs="none", ssl_check_hostname=False)
    else:
        kwargs.update(ssl_cert_reqs="required", ssl_check_hostname=True)
    if tls.ca:
        kwargs["ssl_ca_certs"] = pem_path(tls.ca, "redis.tls.ca")
    if tls.cert:
        kwargs["ssl_certfile"] = pem_path(tls.cert, "redis.tls.cert")
        kwargs["ssl_keyfile"] = pem_path(tls.key, "redis.tls.key")
    return kwargs
