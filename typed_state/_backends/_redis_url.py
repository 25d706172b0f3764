"""A Redis URL as typed_state reads it: the server (one, or a master that Sentinel names)
and typed_state's own options, which redis-py must not see.

- ``redis://[user:password@]host:port/db``, ``rediss://`` (TLS), ``unix://path``: one
  server, as redis-py reads the URL;
- ``redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]`` (and
  ``rediss+sentinel://``, TLS to the data nodes): the master that these sentinels name
  for ``service``, asked again whenever a connection is made, so that a failover is
  followed without a restart.  ``sentinel_password=`` (query) is the sentinels' own;
- ``?wait_replicas=N`` on any of them: a write returns only once N replicas have it
  (Redis ``WAIT``), else it fails (see ``RedisTarget``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import redis
from redis.sentinel import Sentinel

from typed_state._backends._base import safe_url
from typed_state._errors import ConfigurationError

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")

_CONNECTION: dict[str, Any] = {
    "socket_connect_timeout": 2.0,
    "socket_timeout": 5.0,
    "health_check_interval": 30,
}
"""How typed_state connects, whatever the URL: a store that went away is said at once."""


@dataclass(frozen=True)
class RedisTarget:
    """A client for the URL's server and what typed_state asks of it."""

    client: redis.Redis
    wait_replicas: int = 0
    """Replicas that must have a write before it returns (0: the master alone)."""
    sentinel: Sentinel | None = None
    service: str = ""
    """The master's name, for the sentinels."""

    def master(self) -> tuple[str, int] | None:
        """Where the sentinels say the master is now (None without Sentinel)."""
        if self.sentinel is None:
            return None
        host, port = self.sentinel.discover_master(self.service)
        return str(host), int(port)


def connect(url: str) -> RedisTarget:
    """The client of ``url`` (see the module's docstring); nothing is sent yet."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    wait = _count(url, options.pop("wait_replicas", "0"))
    try:
        if parts.scheme in SENTINEL_SCHEMES:
            return _sentinel(url, parts.scheme, options, wait)
        plain = urlunsplit(parts._replace(query=urlencode(options)))
        return RedisTarget(redis.Redis.from_url(plain, **_CONNECTION), wait)
    except (ValueError, TypeError) as exc:
        raise ConfigurationError(f"invalid Redis URL {safe_url(url)!r}: {exc}") from exc


def _sentinel(url: str, scheme: str, options: dict[str, str], wait: int) -> RedisTarget:
    parts = urlsplit(url)
    credentials, _, hosts = parts.netloc.rpartition("@")
    username, _, password = credentials.partition(":")
    path = [part for part in parts.path.split("/") if part]
    if not hosts or not 1 <= len(path) <= 2:
        raise ValueError(
            "write redis+sentinel://[user:password@]host:port[,host:port...]/service[/db]"
        )
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "26379")
        sentinels.append((name or host, int(port)))
    sentinel_kwargs: dict[str, Any] = dict(_CONNECTION)
    if "sentinel_password" in options:
        sentinel_kwargs["password"] = unquote(options.pop("sentinel_password"))
    if options:
        known = "wait_replicas, sentinel_password"
        raise ValueError(f"unknown options {sorted(options)} (known: {known})")
    node: dict[str, Any] = {
        **_CONNECTION,
        "db": int(path[1]) if len(path) == 2 else 0,
        "username": unquote(username) or None,
        "password": unquote(password) or None,
    }
    if scheme == "rediss+sentinel":
        node["ssl"] = True
    sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, **dict(_CONNECTION))
    service = unquote(path[0])
    return RedisTarget(sentinel.master_for(service, **node), wait, sentinel, service)


def _count(url: str, raw: str) -> int:
    if not raw.isdigit():
        raise ConfigurationError(
            f"invalid Redis URL {safe_url(url)!r}: wait_replicas is a number of replicas, "
            f"not {raw!r}"
        )
    return int(raw)
