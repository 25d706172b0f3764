"""The Redis store: one state shared by several processes or replicas.

Layout, under ``typed_state:<app>:`` so that apps and classes never collide:

- ``state:<namespace>``: a hash, one JSON value per field (through Pydantic,
  never pickle), ``__v__``, a counter bumped by every write, and ``__c__:<field>``,
  each field's change count (its version);
- ``items:<namespace>:<field>``: a list field that ``append`` was used on keeps
  its items here, one JSON each (the hash holds ``L``, which no JSON is), so that
  an append is one RPUSH and its change message carries just the new items;
- ``used:<family>``: a sorted set of a family's members by last use (wall
  time), for expiry by ``typed_state_ttl`` and ``typed_state_max_keys``;
- ``lock:<namespace>:<field>``: a redis-py :class:`~redis.lock.Lock` per field,
  a lease that a background thread renews while its holder works, and that
  fences writes: a write under a lock is one Lua script that stores only if the
  lock is still this holder's, so a write can never land after its lease ran out;
- ``presence:<family or namespace>``: per process, the sessions present on each
  state, refreshed by a heartbeat and ignored once it stops (a dead replica);
- ``changes``: the pub/sub channel where every write names its fields.

Each process keeps the decoded values in a local cache, the dict the model
reads from, so a field read is no network round trip.  A listener thread
follows ``changes``: for another process's write it fetches the fields named
(never trusting the message for values), updates the cache and reports them
through :meth:`RedisBackend.watch`.  Taking a field's lock fetches the field
too, so a read-modify-write under the lock always starts from the stored value.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
import warnings
from typing import TYPE_CHECKING, Any

import redis
from pydantic import ValidationError
from redis.exceptions import LockError, LockNotOwnedError, RedisError

from typed_state import _clock
from typed_state._backends._base import Backend, FieldLock, StaleVersions, family_of
from typed_state._change import differs
from typed_state._errors import (
    BackendError,
    ConfigurationError,
    LockLostError,
    StoredValueWarning,
)
from typed_state._once import get_or_create
from typed_state._readonly import frozen_list

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping

    from typed_state._backends._codec import FieldCodec

_LOGGER = logging.getLogger("typed_state")
_VERSION = "__v__"
"""The hash field counting writes to a namespace (fields cannot start with "_")."""
_FENCED_WRITE = """
local nlocks, nchecks, nfills = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, nlocks do
  if redis.call('get', KEYS[i + 2]) ~= ARGV[9 + i] then return {-1, i} end
end
local at = 9 + nlocks
local stale = {-2}
for i = 1, nchecks do
  local name = ARGV[at + 2 * i - 1]
  local found = tonumber(redis.call('hget', KEYS[1], '__c__:' .. name) or '0')
  if found ~= tonumber(ARGV[at + 2 * i]) then
    stale[#stale + 1] = name
    stale[#stale + 1] = found
  end
end
if #stale > 1 then return stale end
at = at + 2 * nchecks
local created = redis.call('exists', KEYS[1]) == 0
if created then
  for i = at + 1, at + 2 * nfills, 2 do
    redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
at = at + 2 * nfills
local result = {0, 0, created and 1 or 0}
local pairs = {}
for i = at + 1, #ARGV, 2 do
  pairs[#pairs + 1] = ARGV[i]
  pairs[#pairs + 1] = ARGV[i + 1]
  result[#result + 1] = redis.call('hincrby', KEYS[1], '__c__:' .. ARGV[i], 1)
  redis.call('del', ARGV[9] .. ARGV[i])
end
redis.call('hset', KEYS[1], unpack(pairs))
result[2] = redis.call('hincrby', KEYS[1], '__v__', 1)
if ARGV[7] ~= '' then redis.call('zadd', KEYS[2], ARGV[8], ARGV[7]) end
redis.call('publish', ARGV[4], created and ARGV[6] or ARGV[5])
return result
"""
"""Store fields only while every lock named still holds this holder's token, and
(for a conditional write) every field checked is still at the version expected.

KEYS: the state hash, the family's last-use sorted set, then the lock keys.
ARGV: the numbers of locks, checks and fills, the channel, the change message,
the message for a write that creates the namespace, the member to note as used
('' for none), the time and the prefix of the namespace's item lists (a field
written whole is JSON in the hash again), then the tokens, (field, version) pairs to check,
(field, value) pairs stored only if the hash does not exist yet (the other
fields of a member's first write), and the (field, value) pairs to store.
Returns ``{0, namespace version, created, field versions...}``; ``{-1, i}`` when
the i-th lock is no longer held, ``{-2, field, version found, ...}`` when checks
failed (nothing stored either way)."""

_EXPIRE = """
local keep = {}
for i = 7, #ARGV do keep[ARGV[i]] = true end
local dropped = {}
local function drop(namespace)
  local flat = redis.call('hgetall', ARGV[3] .. namespace)
  for i = 2, #flat, 2 do
    if flat[i] == 'L' then redis.call('del', ARGV[6] .. namespace .. ':' .. flat[i - 1]) end
  end
  redis.call('del', ARGV[3] .. namespace)
  redis.call('zrem', KEYS[1], namespace)
  redis.call('publish', ARGV[4], cjson.encode({o = ARGV[5], n = namespace, f = {}, d = 1}))
  dropped[#dropped + 1] = namespace
end
if ARGV[1] ~= '' then
  for _, namespace in ipairs(redis.call('zrangebyscore', KEYS[1], '-inf', '(' .. ARGV[1])) do
    if not keep[namespace] then drop(namespace) end
  end
end
if ARGV[2] ~= '' then
  local excess = redis.call('zcard', KEYS[1]) - tonumber(ARGV[2])
  if excess > 0 then
    for _, namespace in ipairs(redis.call('zrange', KEYS[1], 0, excess - 1)) do drop(namespace) end
  end
end
return dropped
"""
"""Delete a family's idle members, then its least recently used beyond a count.

KEYS: the family's last-use sorted set.  ARGV: the idle cutoff ('' for none),
the most members kept ('' for no limit), the state hash prefix, the channel,
this process's origin, the item list prefix, then the members never to expire
by idleness (read in the calling process; other processes keep theirs used)."""

_READ = """
local flat = {}
if #ARGV > 1 then
  local names = {}
  for i = 2, #ARGV do names[#names + 1] = ARGV[i] end
  local values = redis.call('hmget', KEYS[1], unpack(names))
  for i = 1, #names do
    flat[#flat + 1] = names[i]
    flat[#flat + 1] = values[i]
  end
else
  flat = redis.call('hgetall', KEYS[1])
end
for i = 2, #flat, 2 do
  if flat[i] == 'L' then flat[i] = redis.call('lrange', ARGV[1] .. flat[i - 1], 0, -1) end
end
return flat
"""
"""Read hash fields (ARGV[2:], or all) of KEYS[1] and, in the same step, the items of
those kept as lists (ARGV[1]: the namespace's item list prefix).  Returns (field,
value) pairs; a value is the JSON, a list of item JSONs, or nil."""

_APPEND = """
local nlocks, nconvert = tonumber(ARGV[1]), tonumber(ARGV[9])
for i = 1, nlocks do
  if redis.call('get', KEYS[3 + i]) ~= ARGV[10 + i] then return {-1, i} end
end
if redis.call('exists', KEYS[1]) == 0 then return {-4} end
local field = ARGV[2]
local at = 10 + nlocks
local converted = false
if redis.call('hget', KEYS[1], field) ~= 'L' then
  if nconvert < 0 then return {-3} end
  redis.call('del', KEYS[2])
  for i = at + 1, at + nconvert, 1000 do
    redis.call('rpush', KEYS[2], unpack(ARGV, i, math.min(i + 999, at + nconvert)))
  end
  redis.call('hset', KEYS[1], field, 'L')
  converted = true
  at = at + nconvert
end
local items = {}
for i = at + 1, #ARGV do items[#items + 1] = ARGV[i] end
if #items > 0 then redis.call('rpush', KEYS[2], unpack(items)) end
if ARGV[3] ~= '' then redis.call('ltrim', KEYS[2], -tonumber(ARGV[3]), -1) end
local changes = redis.call('hincrby', KEYS[1], '__c__:' .. field, 1)
local version = redis.call('hincrby', KEYS[1], '__v__', 1)
if ARGV[7] ~= '' then redis.call('zadd', KEYS[3], ARGV[8], ARGV[7]) end
local message = {o = ARGV[5], n = ARGV[6], f = {field}}
if not converted then
  message.a = items
  message.v = version
  message.c = changes
  if ARGV[3] ~= '' then message.k = tonumber(ARGV[3]) end
end
if ARGV[10] == '1' then message.q = 1 end
redis.call('publish', ARGV[4], cjson.encode(message))
return {0, version, changes}
"""
"""Append items to a list field kept as a Redis list, fenced like a write.

KEYS: the state hash, the field's item list, the family's last-use set, the lock
keys.  ARGV: the number of locks, the field, keep_last ('' for all), the channel,
this process's origin, the namespace, the member to note as used ('' for none),
the time, the number of items that replace the list first (-1: none sent), quiet
('1' or ''), then the tokens, those items, and the items to append.

The change message carries the items, the field's new change count and the
namespace's version: a process whose count is one behind applies them; any
other fetches the field.  Returns ``{0, namespace version, field version}``;
``{-1, i}`` when the i-th lock is no longer held, ``{-3}`` when the field is JSON
in the hash and no items were sent to replace it, ``{-4}`` when the namespace no
longer exists (nothing stored in any of these)."""

_DELETE = """
local flat = redis.call('hgetall', KEYS[1])
for i = 2, #flat, 2 do
  if flat[i] == 'L' then redis.call('del', ARGV[1] .. flat[i - 1]) end
end
local deleted = redis.call('del', KEYS[1])
redis.call('zrem', KEYS[2], ARGV[2])
redis.call('publish', ARGV[3], ARGV[4])
return deleted
"""
"""Delete a namespace, its item lists and its last use; publish the message.
KEYS: the hash, the family's last-use set.  ARGV: the item list prefix, the
namespace, the channel, the message."""

_CHANGES = "__c__:"
"""Prefix of the hash fields counting each field's stored changes (its version)."""

_SUBSCRIBED = b"typed_state-subscribed"
"""The PING message whose PONG tells the listener its subscription is in effect."""

_SUBSCRIBE_WAIT = 2.0
"""Seconds the first use of the store waits for the listener's subscription (at most)."""

_RECONNECT_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Seconds between attempts to reach Redis again after losing it (the last repeats)."""


def _safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


class _Namespace:
    """What this process knows of one namespace: live values and their versions."""

    __slots__ = ("callbacks", "changes", "codec", "field_versions", "live", "stored")

    def __init__(self, codec: FieldCodec) -> None:
        self.codec = codec
        self.stored = False
        """Whether the hash exists in Redis, as far as this process knows."""
        self.live: dict[str, Any] = {}
        self.field_versions: dict[str, int] = {}
        """Per field, the namespace version its cached value was read or written at."""
        self.changes: dict[str, int] = {}
        """Per field, how many changes were stored (``state.version(field)``)."""
        self.callbacks: list[Callable[[list[str], bool], None]] = []


class RedisBackend(Backend):
    """Values in Redis, cached in this process and kept fresh over pub/sub."""

    shared = True

    def __init__(
        self, url: str, app: str, *, lock_lease: float = 60.0, renew_locks: bool = True
    ) -> None:
        self.url = url
        self.app = app
        self.lock_lease = lock_lease
        self.renew_locks = renew_locks
        """Whether held locks are renewed in the background (off only in tests of expiry)."""
        self._prefix = f"typed_state:{app}:"
        self._channel = f"{self._prefix}changes"
        self._origin = uuid.uuid4().hex
        try:
            self._client = redis.Redis.from_url(
                url, socket_connect_timeout=2.0, socket_timeout=5.0, health_check_interval=30
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid Redis URL {_safe_url(url)!r}: {exc}") from exc
        self._namespaces: dict[str, _Namespace] = {}
        self._member_watchers: dict[str, list[Callable[[], None]]] = {}
        self._locks: dict[tuple[str, str], _RedisFieldLock] = {}
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._listener: threading.Thread | None = None
        self._held: set[_RedisFieldLock] = set()
        self._renewer: threading.Thread | None = None
        self._fenced_write = self._client.register_script(_FENCED_WRITE)
        self._expire = self._client.register_script(_EXPIRE)
        self._read_script = self._client.register_script(_READ)
        self._append = self._client.register_script(_APPEND)
        self._delete = self._client.register_script(_DELETE)

    # -- errors ------------------------------------------------------------------------

    def _failed(self, action: str, exc: Exception) -> BackendError:
        url = _safe_url(self.url)
        return BackendError(
            f"Redis at {url} failed to {action}: {exc}. Nothing was "
            "changed; typed_state reconnects by itself when Redis is back.",
            url=url,
            action=action,
        )

    def _key(self, namespace: str) -> str:
        return f"{self._prefix}state:{namespace}"

    def _used_key(self, family: str) -> str:
        return f"{self._prefix}used:{family}"

    def _items_prefix(self, namespace: str) -> str:
        return f"{self._prefix}items:{namespace}:"

    def _snapshot(self, namespace: str, names: list[str] | None = None) -> dict[bytes, Any]:
        """Hash fields (``names``, or all) with list fields' items, read in one step."""
        raw = self._read_script(
            keys=[self._key(namespace)], args=[self._items_prefix(namespace), *(names or [])]
        )
        return {raw[i]: raw[i + 1] for i in range(0, len(raw), 2)}

    # -- reading -----------------------------------------------------------------------

    def _decode(self, ns: _Namespace, namespace: str, name: str, raw: Any) -> Any:
        """A stored field's value (JSON, or a list field's item JSONs); its default
        (with a warning) if it does not validate."""
        if raw is None:
            return ns.codec.default(name)
        if isinstance(raw, list):
            raw = b"[" + b",".join(raw) + b"]"
        try:
            return ns.codec.decode(name, raw)
        except ValidationError as exc:
            default = ns.codec.default(name)
            problems = "; ".join(
                f"{e['msg']} (input {str(e.get('input'))[:60]!r})" for e in exc.errors()
            )
            message = (
                f"{ns.codec.cls.__name__}.{name} in Redis ({self._key(namespace)}) does not "
                f"validate: {problems}. Using the default {default!r} in this process; "
                "the stored value is left as it is until the field is written."
            )
            _LOGGER.warning(message)
            warnings.warn(message, StoredValueWarning, stacklevel=2)
            return default

    def _attach(self, namespace: str, codec: FieldCodec) -> _Namespace:
        codec.check_storable("Redis")
        with self._mutex:
            ns = self._namespaces.get(namespace)
            if ns is None:
                ns = self._namespaces[namespace] = _Namespace(codec)
            ns.codec = codec
        self._start_listener()
        return ns

    def _fill(self, ns: _Namespace, namespace: str, stored: Mapping[Any, Any]) -> None:
        ns.stored = True
        version = int(stored.get(_VERSION.encode(), b"0"))
        for name in ns.codec.names:
            ns.live[name] = self._decode(ns, namespace, name, stored.get(name.encode()))
            ns.field_versions[name] = version
            ns.changes[name] = int(stored.get(f"{_CHANGES}{name}".encode(), b"0"))

    def load(self, namespace: str, codec: FieldCodec) -> dict[str, Any] | None:
        ns = self._attach(namespace, codec)
        try:
            stored = self._snapshot(namespace)
        except RedisError as exc:
            raise self._failed(f"load {namespace}", exc) from exc
        if not stored:
            return None
        if any(name.encode() not in stored for name in codec.names):
            # Fields the class gained: stored now, so every process agrees on them.
            defaults = {name: codec.default(name) for name in codec.names}
            return self.create(namespace, defaults, codec)
        self._fill(ns, namespace, stored)
        return ns.live

    def attach(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        ns = self._attach(namespace, codec)
        ns.stored = False
        for name, value in values.items():
            ns.live[name] = value
            ns.field_versions[name] = 0
            ns.changes[name] = 0
        return ns.live

    def create(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec
    ) -> dict[str, Any]:
        ns = self._attach(namespace, codec)
        key = self._key(namespace)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                for name, value in values.items():
                    # Only the fields missing: another process may have stored them.
                    pipe.hsetnx(key, name, codec.encode(name, value))
                pipe.execute()
            stored = self._snapshot(namespace)
        except RedisError as exc:
            raise self._failed(f"create {namespace}", exc) from exc
        self._fill(ns, namespace, stored)
        return ns.live

    def _read(self, ns: _Namespace, namespace: str, names: list[str]) -> tuple[int, list[Any]]:
        """The stored values of these fields (JSON, or item JSONs) and the namespace's
        version read with them; their change counts go to ``ns.changes``."""
        counts = [f"{_CHANGES}{name}" for name in names]
        raw = self._snapshot(namespace, [*names, _VERSION, *counts])
        for name, count in zip(names, counts, strict=True):
            ns.changes[name] = int(raw.get(count.encode()) or 0)
        return int(raw.get(_VERSION.encode()) or 0), [raw.get(n.encode()) for n in names]

    def refresh(self, namespace: str, names: list[str]) -> None:
        """Bring these fields up to date in the cache (their locks are held).

        Their change counts are read first: a field this process already holds
        at its stored count (it hears every change) is not fetched again, so
        taking the lock of a big list field costs no transfer of the list.
        """
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        try:
            counts = self._client.hmget(
                self._key(namespace), [f"{_CHANGES}{name}" for name in names]
            )
            names = [
                name
                for name, count in zip(names, counts, strict=True)
                if not count or int(count) != ns.changes.get(name)
            ]
            if not names:
                return
            version, raw = self._read(ns, namespace, names)
        except RedisError as exc:
            raise self._failed(f"read {namespace}", exc) from exc
        for name, value in zip(names, raw, strict=True):
            if name in ns.live:
                ns.live[name] = self._decode(ns, namespace, name, value)
                ns.field_versions[name] = max(version, ns.field_versions.get(name, 0))

    # -- writing -----------------------------------------------------------------------

    def version(self, namespace: str, name: str) -> int:
        ns = self._namespaces.get(namespace)
        return 0 if ns is None else ns.changes.get(name, 0)

    def save(
        self,
        namespace: str,
        values: Mapping[str, Any],
        codec: FieldCodec,
        *,
        quiet: bool = False,
        expect: Mapping[str, int] | None = None,
    ) -> bool:
        ns = self._namespaces[namespace]
        encoded = {name: codec.encode(name, value) for name, value in values.items()}
        # A member's first write stores its other fields too (their defaults
        # here), unless another process created it meanwhile.
        fills = (
            {}
            if ns.stored
            else {n: codec.encode(n, v) for n, v in ns.live.items() if n not in values}
        )
        names = sorted(values)
        key = self._key(namespace)
        family = family_of(namespace)
        # Fenced by the locks this thread holds on these fields (all of them, on
        # every write typed_state makes).
        held = [
            lock
            for name in names
            if (lock := self._locks.get((namespace, name))) is not None and lock.held_here()
        ]
        checks = dict(expect or {})
        args: list[Any] = [len(held), len(checks), len(fills), self._channel]
        args += [self._message(namespace, names, q=quiet)]
        args += [self._message(namespace, names, q=quiet, c=True)]
        args += [namespace if family is not None else "", _clock.now()]
        args += [self._items_prefix(namespace)]
        args += [lock.token for lock in held]
        for name, expected in checks.items():
            args += [name, expected]
        for pairs in (fills, encoded):
            for name, raw in pairs.items():
                args += [name, raw]
        used = self._used_key(family if family is not None else namespace)
        try:
            result = self._fenced_write(keys=[key, used, *(lock.name for lock in held)], args=args)
        except RedisError as exc:
            raise self._failed(f"store {namespace} {names}", exc) from exc
        code = int(result[0])
        if code == -1:
            raise held[int(result[1]) - 1].lost()
        if code == -2:
            found = result[1:]
            raise StaleVersions(
                {found[i].decode(): int(found[i + 1]) for i in range(0, len(found), 2)}
            )
        version, created = int(result[1]), bool(result[2])
        # Stored: only now does this process show it.
        ns.stored = True
        for (name, value), changes in zip(values.items(), result[3:], strict=True):
            ns.live[name] = value
            ns.field_versions[name] = version
            ns.changes[name] = int(changes)
        return created

    def append(
        self,
        namespace: str,
        name: str,
        items: list[Any],
        value: Any,
        codec: FieldCodec,
        *,
        keep_last: int | None,
        quiet: bool = False,
    ) -> bool:
        ns = self._namespaces[namespace]
        if not ns.stored:
            return self.save(namespace, {name: value}, codec, quiet=quiet)
        lock = self._locks.get((namespace, name))
        held = [lock] if lock is not None and lock.held_here() else []
        family = family_of(namespace)
        keys = [
            self._key(namespace),
            f"{self._items_prefix(namespace)}{name}",
            self._used_key(family if family is not None else namespace),
            *(lock.name for lock in held),
        ]

        def run(convert: list[bytes] | None, added: list[bytes], keep: int | None) -> Any:
            args: list[Any] = [len(held), name, "" if keep is None else keep, self._channel]
            args += [self._origin, namespace, namespace if family is not None else ""]
            args += [_clock.now(), -1 if convert is None else len(convert), "1" if quiet else ""]
            args += [lock.token for lock in held]
            return self._append(keys=keys, args=[*args, *(convert or ()), *added])

        try:
            result = run(None, codec.encode_items(name, items), keep_last)
            if int(result[0]) == -3:
                # The field is JSON in the hash (written whole, or never appended
                # to): it becomes a list, once, holding the new value.
                result = run(codec.encode_items(name, list(value)), [], None)
        except RedisError as exc:
            raise self._failed(f"append to {namespace} {name}", exc) from exc
        code = int(result[0])
        if code == -1:
            raise held[0].lost()
        if code == -4:  # deleted meanwhile (drop, expiry): a first write again
            ns.stored = False
            return self.save(namespace, {name: value}, codec, quiet=quiet)
        ns.live[name] = value
        ns.field_versions[name] = int(result[1])
        ns.changes[name] = int(result[2])
        return False

    def replace(self, namespace: str, values: Mapping[str, Any], codec: FieldCodec) -> None:
        # The class changed in this process only: other replicas may still run
        # the old one, so nothing is written back; writes store the new values.
        ns = self._attach(namespace, codec)
        for name in [n for n in ns.live if n not in values]:
            del ns.live[name]
        ns.live.update(values)

    def _message(self, namespace: str, names: list[str], **flags: bool) -> str:
        return json.dumps(
            {"o": self._origin, "n": namespace, "f": names, **{k: 1 for k, v in flags.items() if v}}
        )

    def announce(self, namespace: str, names: list[str]) -> None:
        try:
            self._client.publish(self._channel, self._message(namespace, names, x=True))
        except RedisError as exc:
            raise self._failed(f"announce {namespace} {names}", exc) from exc

    def delete(self, namespace: str) -> bool:
        message = self._message(namespace, [], d=True)
        family = family_of(namespace)
        used = self._used_key(family if family is not None else namespace)
        try:
            deleted = bool(
                self._delete(
                    keys=[self._key(namespace), used],
                    args=[self._items_prefix(namespace), namespace, self._channel, message],
                )
            )
        except RedisError as exc:
            raise self._failed(f"delete {namespace}", exc) from exc
        with self._mutex:
            self._namespaces.pop(namespace, None)
        return deleted

    def mark_used(self, namespace: str, when: float) -> None:
        family = family_of(namespace)
        if family is None:
            return
        try:
            # xx: a member nobody stored is not one; gt: never back in time.
            self._client.zadd(self._used_key(family), {namespace: when}, xx=True, gt=True)
        except RedisError as exc:
            raise self._failed(f"note the use of {namespace}", exc) from exc

    def expire(
        self,
        family: str,
        *,
        idle_since: float | None,
        max_keys: int | None,
        keep: Collection[str],
    ) -> list[str]:
        args: list[Any] = [
            "" if idle_since is None else repr(idle_since),
            "" if max_keys is None else max_keys,
            self._key(""),
            self._channel,
            self._origin,
            f"{self._prefix}items:",
            *keep,
        ]
        try:
            dropped = self._expire(keys=[self._used_key(family)], args=args)
        except RedisError as exc:
            raise self._failed(f"expire members of {family}", exc) from exc
        names = [raw.decode() for raw in dropped]
        with self._mutex:
            for namespace in names:
                self._namespaces.pop(namespace, None)
        return names

    def share_presence(
        self, groups: Mapping[str, Mapping[str, list[str | None]]], until: float
    ) -> None:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for group, present in groups.items():
                    key = f"{self._prefix}presence:{group}"
                    if present:
                        pipe.hset(key, self._origin, json.dumps({"u": until, "n": present}))
                    else:
                        pipe.hdel(key, self._origin)
                pipe.execute()
        except RedisError as exc:
            raise self._failed("share presence", exc) from exc

    def others_presence(self, groups: list[str], now: float) -> dict[str, list[str | None]]:
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for group in groups:
                    pipe.hgetall(f"{self._prefix}presence:{group}")
                entries = pipe.execute()
        except RedisError as exc:
            raise self._failed("read presence", exc) from exc
        found: dict[str, list[str | None]] = {}
        for group, by_origin in zip(groups, entries, strict=True):
            expired = []
            for origin, raw in by_origin.items():
                if origin.decode() == self._origin:
                    continue
                entry = json.loads(raw)
                if entry["u"] < now:
                    expired.append(origin)  # a process that stopped beating (it died)
                    continue
                for namespace, labels in entry["n"].items():
                    found.setdefault(namespace, []).extend(labels)
            if expired:
                with contextlib.suppress(RedisError):
                    self._client.hdel(f"{self._prefix}presence:{group}", *expired)
        return found

    def watch_members(self, family: str, callback: Callable[[], None]) -> None:
        with self._mutex:
            callbacks = self._member_watchers.setdefault(family, [])
            if callback not in callbacks:
                callbacks.append(callback)
        # A lobby page may list a family's keys in a process that uses none of them.
        self._start_listener()

    def namespaces(self, prefix: str) -> list[str]:
        start = len(self._key(""))
        pattern = self._key(_glob_escape(prefix)) + "*"
        try:
            keys = list(self._client.scan_iter(match=pattern, count=500))
        except RedisError as exc:
            raise self._failed("list states", exc) from exc
        return sorted(key.decode()[start:] for key in keys)

    def lock(self, namespace: str, field: str) -> FieldLock:
        return get_or_create(
            self._locks,
            (namespace, field),
            self._mutex,
            lambda: _RedisFieldLock(self, namespace, field),
        )

    # -- lease renewal ----------------------------------------------------------------

    def _holding(self, lock: _RedisFieldLock, held: bool) -> None:
        """Note that ``lock`` was taken (True) or released (False) in Redis."""
        with self._mutex:
            if held:
                self._held.add(lock)
            else:
                self._held.discard(lock)
            if held and self.renew_locks and self._renewer is None:
                self._renewer = threading.Thread(
                    target=self._renew, name="typed_state-redis-locks", daemon=True
                )
                self._renewer.start()

    def _renew(self) -> None:
        """Every third of a lease, give every held lock a full lease again.

        A holder that is still working (a long ``mutate()`` block) then keeps
        its lock; one whose process died stops renewing, and the lease frees it.
        """
        while not self._stop.wait(self.lock_lease / 3):
            with self._mutex:
                held = list(self._held)
            for lock in held:
                lock.renew()

    def watch(self, namespace: str, callback: Callable[[list[str], bool], None]) -> None:
        ns = self._namespaces.get(namespace)
        if ns is not None and callback not in ns.callbacks:
            ns.callbacks.append(callback)

    # -- other processes' writes ------------------------------------------------------

    def _start_listener(self) -> None:
        if self._listener is not None:
            return
        listener = threading.Thread(target=self._listen, name="typed_state-redis", daemon=True)
        with self._mutex:
            started = self._listener is None
            if started:
                self._listener = listener
                listener.start()
        if started:
            # Values read after this are either read after a change or hear of it:
            # a change published before the subscription took effect would be lost.
            self._subscribed.wait(_SUBSCRIBE_WAIT)

    def _listen(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            pubsub = self._client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
            try:
                pubsub.subscribe(self._channel)
                # Redis answers in order: the PONG means the subscription is in effect.
                pubsub.ping(_SUBSCRIBED)
                if attempt:
                    _LOGGER.warning("typed_state: Redis at %s is back", _safe_url(self.url))
                    # Writes made while we were away were never heard of.
                    self._resync()
                attempt = 0
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    if message.get("type") == "message":
                        self._received(message["data"])
                    elif message.get("type") == "pong" and message["data"] == _SUBSCRIBED:
                        self._subscribed.set()
            except RedisError as exc:
                if attempt == 0:
                    _LOGGER.warning(
                        "typed_state: lost Redis at %s (%s); retrying", _safe_url(self.url), exc
                    )
                delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                attempt += 1
                self._stop.wait(delay)
            except Exception:  # a bug must not silently end the listener
                _LOGGER.exception("typed_state: Redis listener error")
                self._stop.wait(1.0)
            finally:
                with contextlib.suppress(Exception):
                    pubsub.close()

    def _received(self, data: bytes) -> None:
        try:
            message = json.loads(data)
            origin, namespace = message["o"], message["n"]
            names = list(message["f"])
        except (ValueError, KeyError, TypeError):
            _LOGGER.warning("typed_state: ignoring a malformed change message %r", data[:200])
            return
        if origin == self._origin:
            return
        dropped = bool(message.get("d"))
        if dropped or message.get("c"):
            family = family_of(namespace)
            for callback in self._member_watchers.get(family or "", ()):
                _call(callback)
        ns = self._namespaces.get(namespace)
        if ns is None:
            return  # not used in this process
        if dropped:
            # Deleted elsewhere (drop() or expiry): instances of it are done
            # with; the next get() starts a fresh member.
            with self._mutex:
                self._namespaces.pop(namespace, None)
            for field_callback in list(ns.callbacks):
                _call(field_callback, ns.codec.names, True)
            return
        if "a" in message:
            self._appended(namespace, ns, message)
            return
        # q: written under no_rerun (nobody re-runs); x: notify() (re-run even if equal).
        self._fetch(
            namespace, ns, names, quiet=bool(message.get("q")), force=bool(message.get("x"))
        )

    def _appended(self, namespace: str, ns: _Namespace, message: dict[str, Any]) -> None:
        """Another process appended items: apply them if this process is one change
        behind on the field, else fetch it (a message was missed)."""
        (name,) = message["f"]
        quiet = bool(message.get("q"))
        if name not in ns.live:
            return
        changes = int(message["c"])
        if ns.changes.get(name) != changes - 1:
            if ns.changes.get(name, 0) < changes:
                self._fetch(namespace, ns, [name], quiet=quiet)
            return
        try:
            added = ns.codec.decode_items(name, [item.encode() for item in message["a"]])
        except ValidationError:
            self._fetch(namespace, ns, [name], quiet=quiet)  # warns, as any fetch would
            return
        value = frozen_list(ns.live[name], ns.codec.origin(name))
        list.extend(value, added)
        keep_last = message.get("k")
        if keep_last is not None and len(value) > keep_last:
            list.__delitem__(value, slice(0, len(value) - keep_last))
        ns.live[name] = value
        ns.changes[name] = changes
        ns.field_versions[name] = max(int(message["v"]), ns.field_versions.get(name, 0))
        if not quiet:
            for callback in list(ns.callbacks):
                _call(callback, [name], False)

    def _fetch(
        self,
        namespace: str,
        ns: _Namespace,
        names: list[str],
        *,
        quiet: bool = False,
        force: bool = False,
    ) -> None:
        names = [n for n in names if n in ns.live]
        if not names:
            return
        version, raw = self._read(ns, namespace, names)
        changed = []
        for name, value in zip(names, raw, strict=True):
            # A value this process wrote (or locked and read) at a later version wins.
            if version < ns.field_versions.get(name, 0):
                continue
            decoded = self._decode(ns, namespace, name, value)
            ns.field_versions[name] = version
            old = ns.live.get(name)
            if differs(old, decoded) or type(old) is not type(decoded):
                ns.live[name] = decoded
                changed.append(name)
        if force:
            changed = names
        if changed and not quiet:
            for callback in list(ns.callbacks):
                _call(callback, changed, False)

    def _resync(self) -> None:
        """After an outage: fill in what Redis lost, then take what it holds."""
        for namespace, ns in list(self._namespaces.items()):
            if not ns.stored:
                continue  # a member nobody wrote: nothing to put back
            key = self._key(namespace)
            # A Redis restarted without persistence lost everything: what this
            # process still has comes back (only into fields nobody stored since).
            with self._client.pipeline(transaction=True) as pipe:
                for name, value in list(ns.live.items()):
                    pipe.hsetnx(key, name, ns.codec.encode(name, value))
                pipe.execute()
            # Every field may have changed, and versions restart with Redis.
            ns.field_versions = dict.fromkeys(ns.field_versions, 0)
            self._fetch(namespace, ns, ns.codec.names)

    def close(self) -> None:
        self._stop.set()
        for thread in (self._listener, self._renewer):
            if thread is not None:
                thread.join(timeout=5)
        self._client.close()


class _RedisFieldLock:
    """A field lock across processes: a local RLock, then a redis-py Lock with a lease.

    The local lock makes it re-entrant within a thread and lets only one
    thread of the process compete for the Redis lock, which is why the Redis
    lock's token can live on the object (``thread_local=False``): the renewing
    thread and the fenced write read it.
    """

    __slots__ = (
        "_backend",
        "_depth",
        "_field",
        "_local",
        "_lost",
        "_namespace",
        "_owner",
        "_redis_lock",
        "_renewing",
    )

    def __init__(self, backend: RedisBackend, namespace: str, field: str) -> None:
        self._backend = backend
        self._namespace = namespace
        self._field = field
        self._local = threading.RLock()
        self._renewing = threading.Lock()
        self._depth = 0
        self._owner: int | None = None
        self._lost = False
        self._redis_lock = backend._client.lock(
            f"{backend._prefix}lock:{namespace}:{field}",
            timeout=backend.lock_lease,
            sleep=0.005,
            thread_local=False,
        )

    @property
    def name(self) -> str:
        """The lock's key in Redis."""
        return str(self._redis_lock.name)

    @property
    def token(self) -> bytes:
        """The holder's token, the lock key's value while it is held."""
        token: bytes = self._redis_lock.local.token
        return token

    def held_here(self) -> bool:
        """Whether the calling thread holds this lock."""
        return self._depth > 0 and self._owner == threading.get_ident()

    def lost(self) -> LockLostError:
        """The error for a lock whose lease ran out while it was held."""
        return LockLostError(
            f"the lock on {self._namespace}.{self._field} expired while it was held: "
            f"its {self._backend.lock_lease:g} s lease (TYPED_STATE_LOCK_LEASE) ran out, so "
            "another process may have written the field meanwhile; nothing was stored "
            "after that",
            namespace=self._namespace,
            field=self._field,
            lease=self._backend.lock_lease,
        )

    def acquire(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if not self._local.acquire(timeout=timeout):
            return False
        if self._depth == 0:
            try:
                remaining = max(0.0, deadline - time.monotonic())
                if not self._redis_lock.acquire(blocking_timeout=remaining):
                    self._local.release()
                    return False
            except (RedisError, LockError) as exc:
                self._local.release()
                raise self._backend._failed(f"lock {self._namespace}.{self._field}", exc) from exc
            self._owner = threading.get_ident()
            self._lost = False
            self._backend._holding(self, True)
            try:
                self._backend.refresh(self._namespace, [self._field])
            except BackendError:
                self._release_redis()
                self._owner = None
                self._local.release()
                raise
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        try:
            if self._depth == 0:
                self._owner = None
                lost = self._lost
                try:
                    self._release_redis()
                except LockNotOwnedError:
                    lost = True
                except (RedisError, LockError) as exc:
                    # Its lease frees it in Redis; this process is free already.
                    _LOGGER.warning("typed_state: could not release a Redis lock: %s", exc)
                if lost:
                    raise self.lost()
        finally:
            self._local.release()

    def _release_redis(self) -> None:
        with self._renewing:
            self._backend._holding(self, False)
            self._redis_lock.release()

    def renew(self) -> None:
        """Give the held lock a full lease again (from the renewing thread)."""
        with self._renewing:
            if self._redis_lock.local.token is None:
                return  # released meanwhile
            try:
                self._redis_lock.reacquire()
            except LockNotOwnedError:
                self._lost = True
                self._backend._holding(self, False)
                _LOGGER.warning(
                    "typed_state: the lock on %s.%s expired before it could be renewed",
                    self._namespace,
                    self._field,
                )
            except (RedisError, LockError) as exc:
                _LOGGER.warning("typed_state: could not renew a Redis lock: %s", exc)


def _call(callback: Callable[..., None], *args: Any) -> None:
    """Call a watcher; its failure is logged, never allowed to end the listener."""
    try:
        callback(*args)
    except Exception:
        _LOGGER.exception("typed_state: change callback failed")


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
