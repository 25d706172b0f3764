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
- ``lock:<namespace>:<field>``: a redis-py ``redis.lock.Lock`` per field,
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
through ``RedisBackend.watch``.  Taking a field's lock fetches the field
too, so a read-modify-write under the lock always starts from the stored value.
"""

from __future__ import annotations

import contextlib
import json
import time
import warnings
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError, LockNotOwnedError, RedisError, ResponseError

from typed_state import _clock
from typed_state._backends._base import (
    PLAIN,
    WRITE_DEADLINE,
    Expiry,
    StaleVersions,
    Write,
    safe_url,
)
from typed_state._backends._redis_url import connect
from typed_state._backends._shared import LOGGER, LeaseLost, SharedBackend, StoreLease
from typed_state._errors import BackendError, ConfigurationError
from typed_state._ids import StateId, family_of, members_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Mapping

    from redis.client import PubSub
    from redis.commands.core import Script

    from typed_state._backends._base import Append
    from typed_state._backends._codec import FieldCodec
    from typed_state._backends._shared import LeaseLock, Namespace, Snapshot

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
-- First: a user that may not publish gets an error before anything is stored.
redis.call('publish', ARGV[4], created and ARGV[6] or ARGV[5])
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
  redis.call('hdel', KEYS[1], '__r__:' .. ARGV[i])
  redis.call('del', ARGV[9] .. ARGV[i])
end
redis.call('hset', KEYS[1], unpack(pairs))
result[2] = redis.call('hincrby', KEYS[1], '__v__', 1)
if ARGV[7] ~= '' then redis.call('zadd', KEYS[2], ARGV[8], ARGV[7]) end
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
  redis.call('publish', ARGV[4], cjson.encode({o = ARGV[5], n = namespace, f = {}, d = 1}))
  local flat = redis.call('hgetall', ARGV[3] .. namespace)
  for i = 2, #flat, 2 do
    if flat[i] == 'L' then redis.call('del', ARGV[6] .. namespace .. ':' .. flat[i - 1]) end
  end
  redis.call('del', ARGV[3] .. namespace)
  redis.call('zrem', KEYS[1], namespace)
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
  -- Items evicted (maxmemory-policy) stay 'L', which no JSON is: unreadable, not empty.
  if flat[i] == 'L' and redis.call('exists', ARGV[1] .. flat[i - 1]) == 1 then
    flat[i] = redis.call('lrange', ARGV[1] .. flat[i - 1], 0, -1)
  end
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
local kept = redis.call('hget', KEYS[1], field) == 'L'
-- A field kept as items always has one (keep_last >= 1; written whole it is JSON).
if kept and redis.call('exists', KEYS[2]) == 0 then return {-5} end
if not kept and nconvert < 0 then return {-3} end
local changes = tonumber(redis.call('hget', KEYS[1], '__c__:' .. field) or '0') + 1
local version = tonumber(redis.call('hget', KEYS[1], '__v__') or '0') + 1
local message = {o = ARGV[5], n = ARGV[6], f = {field}}
if kept then
  message.v = version
  message.c = changes
  if ARGV[3] ~= '' then message.k = tonumber(ARGV[3]) end
end
if ARGV[10] == '1' then message.q = 1 end
local items = {}
for i = at + (kept and 0 or nconvert) + 1, #ARGV do items[#items + 1] = ARGV[i] end
if kept then message.a = items end
-- First: a user that may not publish gets an error before anything is stored.
redis.call('publish', ARGV[4], cjson.encode(message))
if not kept then
  redis.call('del', KEYS[2])
  for i = at + 1, at + nconvert, 1000 do
    redis.call('rpush', KEYS[2], unpack(ARGV, i, math.min(i + 999, at + nconvert)))
  end
  redis.call('hset', KEYS[1], field, 'L')
end
if #items > 0 then redis.call('rpush', KEYS[2], unpack(items)) end
if ARGV[3] ~= '' then redis.call('ltrim', KEYS[2], -tonumber(ARGV[3]), -1) end
redis.call('hset', KEYS[1], '__c__:' .. field, changes, '__v__', version)
redis.call('hdel', KEYS[1], '__r__:' .. field)
if ARGV[7] ~= '' then redis.call('zadd', KEYS[3], ARGV[8], ARGV[7]) end
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
longer exists, ``{-5}`` when its items are gone (evicted: ``maxmemory-policy``)
(nothing stored in any of these)."""

_RESTORE = """
local restored = 0
for i = 5, #ARGV, 3 do
  local name, count = ARGV[i], tonumber(ARGV[i + 2])
  local found = redis.call('hget', KEYS[1], '__c__:' .. name)
  local stored = redis.call('hget', KEYS[1], name)
  local put_back = not stored or (stored == 'L' and redis.call('exists', ARGV[2] .. name) == 0)
  if not put_back and redis.call('hexists', KEYS[1], '__r__:' .. name) == 1 then
    put_back = tonumber(found or '0') < count
  end
  if put_back then
    redis.call('hset', KEYS[1], name, ARGV[i + 1], '__c__:' .. name, count, '__r__:' .. name, 1)
    redis.call('del', ARGV[2] .. name)
    restored = restored + 1
  end
end
if tonumber(redis.call('hget', KEYS[1], '__v__') or '-1') < tonumber(ARGV[1]) then
  redis.call('hset', KEYS[1], '__v__', ARGV[1])
end
if ARGV[3] ~= '' then redis.call('zadd', KEYS[2], 'NX', ARGV[4], ARGV[3]) end
return restored
"""
"""Put back what a process holds of a state Redis lost: a field nobody stored since
Redis came back, or one another process put back (tagged ``__r__:``) at a lower change
count than this one holds; a write clears the tag, so a write made since stands.
KEYS: the state hash, the family's member index.  ARGV: the namespace version, the item
list prefix, the member to index ('' for none) and the time, then (field, value JSON,
change count) triples.  Returns how many fields were put back."""

_DELETE = """
redis.call('publish', ARGV[3], ARGV[4])
local flat = redis.call('hgetall', KEYS[1])
for i = 2, #flat, 2 do
  if flat[i] == 'L' then redis.call('del', ARGV[1] .. flat[i - 1]) end
end
local deleted = redis.call('del', KEYS[1])
redis.call('zrem', KEYS[2], ARGV[2])
return deleted
"""
"""Delete a namespace, its item lists and its last use; publish the message.
KEYS: the hash, the family's last-use set.  ARGV: the item list prefix, the
namespace, the channel, the message."""

_PROBE = """
local denied = {}
local function try(command, ...)
  local answer = redis.pcall(command, ...)
  if type(answer) == 'table' and answer.err then denied[#denied + 1] = command:upper() end
end
try('hset', KEYS[1], 'p', '1')
try('hsetnx', KEYS[1], 'q', '1')
try('hget', KEYS[1], 'p')
try('hmget', KEYS[1], 'p')
try('hgetall', KEYS[1])
try('hexists', KEYS[1], 'p')
try('hincrby', KEYS[1], 'c', 1)
try('hdel', KEYS[1], 'p', 'q', 'c')
try('rpush', KEYS[2], 'x')
try('ltrim', KEYS[2], 0, -1)
try('lrange', KEYS[2], 0, -1)
try('exists', KEYS[2])
try('del', KEYS[2])
try('zadd', KEYS[3], 1, 'x')
try('zrange', KEYS[3], 0, -1)
try('zrangebyscore', KEYS[3], '-inf', '+inf')
try('zcard', KEYS[3])
try('zrem', KEYS[3], 'x')
try('set', KEYS[4], 't', 'PX', 1000, 'NX')
try('get', KEYS[4])
try('pexpire', KEYS[4], 1000)
try('del', KEYS[4])
try('publish', ARGV[1], ARGV[2])
return denied
"""
"""Run each command typed_state's scripts and locks use, on keys of this app, and
return those refused (a Redis user's ACL).  KEYS: a state hash, an item list,
a sorted set and a lock key; ARGV: the channel and a change message about nothing."""

_EVICTING = ("allkeys-lru", "allkeys-lfu", "allkeys-random")
"""``maxmemory-policy`` values under which a full Redis deletes keys without a TTL:
states, item lists and member indexes."""

_WAIT_LONGEST = 4.0
"""Seconds a write waits for its replicas at most (``wait_replicas``): less than the
connection's socket timeout, within the write's own timeout."""

_CHANGES = "__c__:"
"""Prefix of the hash fields counting each field's stored changes (its version)."""

_SUBSCRIBED = "typed_state-subscribed"
"""The PING message whose PONG tells the listener its subscription is in effect."""

_RESTORE_GRACE = 3.0
"""Seconds a locked write waits after this process found that Redis lost data (restarted
empty), so that every other process, which reconnects within 2 s, puts back what it
holds first: a newer value one of them holds then wins over this process's older one."""


class RedisBackend(SharedBackend):
    """Values in Redis, cached in this process and kept fresh over pub/sub."""

    store_name = "Redis"
    errors = (RedisError, LockError)

    def __init__(
        self, url: str, app: str, *, lock_lease: float = 10.0, renew_locks: bool = True
    ) -> None:
        super().__init__(url, app, lock_lease=lock_lease, renew_locks=renew_locks)
        self._prefix = f"typed_state:{app}:"
        self._channel = f"{self._prefix}changes"
        self._target = connect(url)
        self._client = self._target.client
        self._fenced_write = self._client.register_script(_FENCED_WRITE)
        self._expire = self._client.register_script(_EXPIRE)
        self._read_script = self._client.register_script(_READ)
        self._append = self._client.register_script(_APPEND)
        self._delete = self._client.register_script(_DELETE)
        self._restore_script = self._client.register_script(_RESTORE)
        self._checked = False
        """Whether the server was checked (permissions, eviction) by a first use."""
        self._indexed: set[str] = set()
        """Families whose member index this process knows to be complete."""
        self._restored_at = float("-inf")
        """When (``time.monotonic()``) this process last found Redis had lost data it held."""

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

    def _where(self, namespace: str) -> str:
        return self._key(namespace)

    def _snapshot_of(self, stored: Mapping[bytes, Any]) -> Snapshot:
        fields = _fields(stored)
        return (
            int(stored.get(_VERSION.encode(), b"0")),
            fields,
            {n: int(stored.get(f"{_CHANGES}{n}".encode(), b"0")) for n in fields},
        )

    # -- reading -----------------------------------------------------------------------

    def _load(self, namespace: str) -> Snapshot | None:
        with self._failing(f"load {namespace}"):
            stored = self._snapshot(namespace)
        return self._snapshot_of(stored) if stored else None

    def _create(self, namespace: str, encoded: Mapping[str, bytes]) -> Snapshot:
        key = self._key(namespace)
        with self._failing(f"create {namespace}"), self._client.pipeline(transaction=True) as pipe:
            for name, raw in encoded.items():
                # Only the fields missing: another process may have stored them.
                pipe.hsetnx(key, name, raw)
            pipe.execute()
            return self._snapshot_of(self._snapshot(namespace))

    def _read(self, namespace: str, names: list[str]) -> tuple[int, list[Any], list[int]]:
        counts = [f"{_CHANGES}{name}" for name in names]
        raw = self._snapshot(namespace, [*names, _VERSION, *counts])
        return (
            int(raw.get(_VERSION.encode()) or 0),
            [raw.get(n.encode()) for n in names],
            [int(raw.get(count.encode()) or 0) for count in counts],
        )

    def refresh(self, namespace: str, names: list[str]) -> None:
        """Bring these fields up to date in the cache (their locks are held).

        Their change counts are read first: a field this process already holds
        at its stored count (it hears every change) is not fetched again, so
        taking the lock of a big list field costs no transfer of the list.
        """
        ns = self._namespaces.get(namespace)
        if ns is None:
            return
        with self._failing(f"read {namespace}"):
            *counts, stored_version = self._client.hmget(
                self._key(namespace), [*(f"{_CHANGES}{name}" for name in names), _VERSION]
            )
            behind = any(
                int(count or 0) < ns.changes.get(name, 0)
                for name, count in zip(names, counts, strict=True)
            )
            if ns.stored and (stored_version is None or behind):
                # Redis lost the state (restarted empty): what this process holds goes
                # back first, else the write under this lock would start from the
                # defaults, or from another process's older view, and lose
                # acknowledged writes.  Then the other processes get the time to put
                # back what they hold (they reconnect within _RESTORE_GRACE).
                if self._restore(namespace, ns):
                    self._restored_at = time.monotonic()
                self._stop.wait(max(0.0, self._restored_at + _RESTORE_GRACE - time.monotonic()))
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
            version, raw, changes = self._read(namespace, names)
        self._refreshed(ns, namespace, names, version, raw, changes)

    # -- writing -----------------------------------------------------------------------

    def save(
        self, namespace: str, values: Mapping[str, Any], codec: FieldCodec, how: Write = PLAIN
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
        held = self.held_locks(namespace, names)
        checks = dict(how.expect or {})
        args: list[Any] = [len(held), len(checks), len(fills), self._channel]
        args += [self._message(namespace, names, q=how.quiet)]
        args += [self._message(namespace, names, q=how.quiet, c=True)]
        args += [namespace if family is not None else "", _clock.now()]
        args += [self._items_prefix(namespace)]
        args += [lock.token for lock in held]
        for name, expected in checks.items():
            args += [name, expected]
        for pairs in (fills, encoded):
            for name, raw in pairs.items():
                args += [name, raw]
        used = self._used_key(family if family is not None else namespace)
        with self._failing(f"store {namespace} {names}"):
            result = self._written(
                self._fenced_write,
                [key, used, *(lock.name for lock in held)],
                args,
                namespace,
                names,
            )
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
        shown = {
            name: codec.as_stored(name, value, encoded[name]) for name, value in values.items()
        }
        self._stored(ns, shown, version, [int(changes) for changes in result[3:]])
        return created

    def _append_items(
        self, namespace: str, change: Append, codec: FieldCodec, held: list[LeaseLock]
    ) -> tuple[int, int] | None:
        name, quiet = change.name, change.quiet
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
            return self._written(
                self._append, keys, [*args, *(convert or ()), *added], namespace, [name]
            )

        with self._failing(f"append to {namespace} {name}"):
            result = run(None, codec.encode_items(name, change.items), change.keep_last)
            if int(result[0]) == -5 and self._restore(namespace, self._namespaces[namespace]):
                # Its items were evicted; this process held them and put them back.
                LOGGER.warning(
                    "typed_state: the items of %s.%s were gone from Redis (evicted: see its "
                    "maxmemory-policy) and were put back from this process's copy",
                    StateId.of(namespace).title,
                    name,
                )
                result = run(None, codec.encode_items(name, change.items), change.keep_last)
            if int(result[0]) == -3:
                # The field is JSON in the hash (written whole, or never appended
                # to): it becomes a list, once, holding the new value.
                result = run(codec.encode_items(name, list(change.value)), [], None)
        code = int(result[0])
        if code == -5:
            raise BackendError(
                f"the items of {StateId.of(namespace).title}.{name} are gone from Redis at "
                f"{safe_url(self.url)} (evicted: set its maxmemory-policy to noeviction) and "
                "this process holds no copy to put back; nothing was stored. Assign the field "
                "anew to start it again.",
                url=safe_url(self.url),
                action=f"append to {namespace} {name}",
            )
        if code == -1:
            raise held[0].lost()
        return None if code == -4 else (int(result[1]), int(result[2]))

    def _written(
        self, script: Script, keys: list[Any], args: list[Any], namespace: str, names: list[str]
    ) -> Any:
        """Run a script that writes; with ``wait_replicas``, return only once that many
        replicas have the write (Redis ``WAIT``, on the same connection), else raise
        ``BackendError``: the master has it, but a failover may lose it, so it is no
        acknowledged write (this process shows what the master holds)."""
        wanted = self._target.wait_replicas
        if not wanted:
            return script(keys=keys, args=args)
        deadline = WRITE_DEADLINE.get() or time.monotonic() + _WAIT_LONGEST
        wait_ms = int(1000 * min(_WAIT_LONGEST, max(0.1, deadline - time.monotonic())))
        with self._client.pipeline(transaction=False) as pipe:
            script(keys=keys, args=args, client=pipe)
            pipe.execute_command("WAIT", wanted, wait_ms)  # type: ignore[no-untyped-call]
            result, acked = pipe.execute()
        wrote = not isinstance(result, list) or int(result[0]) == 0
        if wrote and int(acked) < wanted:
            ns = self._namespaces.get(namespace)
            if ns is not None and names:
                self._fetch(namespace, ns, names)
            raise BackendError(
                f"Redis at {safe_url(self.url)} has the write to {StateId.of(namespace).title} "
                f"{names} on its master, but {int(acked)} of the {wanted} replicas it must "
                f"reach (wait_replicas) had it after {wait_ms} ms: a failover now could lose "
                "it, so it is not acknowledged. Check the replicas (INFO replication).",
                url=safe_url(self.url),
                action=f"replicate the write to {namespace}",
            )
        return result

    def announce(self, namespace: str, names: list[str]) -> None:
        with self._failing(f"announce {namespace} {names}"):
            self._client.publish(self._channel, self._message(namespace, names, x=True))

    def delete(self, namespace: str) -> bool:
        message = self._message(namespace, [], d=True)
        family = family_of(namespace)
        used = self._used_key(family if family is not None else namespace)
        with self._failing(f"delete {namespace}"):
            deleted = bool(
                self._written(
                    self._delete,
                    [self._key(namespace), used],
                    [self._items_prefix(namespace), namespace, self._channel, message],
                    namespace,
                    [],
                )
            )
        with self._mutex:
            self._namespaces.pop(namespace, None)
        return deleted

    def mark_used(self, namespace: str, when: float) -> None:
        family = family_of(namespace)
        if family is None:
            return
        with self._failing(f"note the use of {namespace}"):
            # xx: a member nobody stored is not one; gt: never back in time.
            self._client.zadd(self._used_key(family), {namespace: when}, xx=True, gt=True)

    def expire(self, family: str, rule: Expiry) -> list[str]:
        args: list[Any] = [
            "" if rule.idle_since is None else repr(rule.idle_since),
            "" if rule.max_keys is None else rule.max_keys,
            self._key(""),
            self._channel,
            self._origin,
            f"{self._prefix}items:",
            *rule.keep,
        ]
        with self._failing(f"expire members of {family}"):
            dropped = self._expire(keys=[self._used_key(family)], args=args)
        names = [raw.decode() for raw in dropped]
        with self._mutex:
            for namespace in names:
                self._namespaces.pop(namespace, None)
        return names

    def share_presence(
        self, groups: Mapping[str, Mapping[str, list[str | None]]], until: float
    ) -> None:
        with self._failing("share presence"), self._client.pipeline(transaction=False) as pipe:
            for group, present in groups.items():
                key = f"{self._prefix}presence:{group}"
                if present:
                    pipe.hset(key, self._origin, json.dumps({"u": until, "n": present}))
                else:
                    pipe.hdel(key, self._origin)
            pipe.execute()

    def others_presence(self, groups: list[str], now: float) -> dict[str, list[str | None]]:
        with self._failing("read presence"), self._client.pipeline(transaction=False) as pipe:
            for group in groups:
                pipe.hgetall(f"{self._prefix}presence:{group}")
            entries = pipe.execute()
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

    def members(self, family: str) -> list[str]:
        # The family's last-use sorted set is its member index: every write of a member
        # enters it, a drop or an expiry takes it out.
        with self._failing(f"list the members of {family}"):
            if family not in self._indexed:
                self._index(family)
            found: list[bytes] = self._client.zrange(self._used_key(family), 0, -1)  # type: ignore[assignment]  # without scores: names
        return sorted(raw.decode() for raw in found)

    def _index(self, family: str) -> None:
        """Enter the members stored before the index was kept complete, once per family
        and store: the one keyspace scan (SCAN) this store makes."""
        marker = f"{self._prefix}indexed:{family}"
        if not self._client.exists(marker):
            start = len(self._key(""))
            # The app name may hold glob characters.
            pattern = _glob_escape(self._key(members_prefix(family))) + "*"
            found = [k.decode()[start:] for k in self._client.scan_iter(match=pattern, count=1000)]
            if found:
                now = _clock.now()
                self._client.zadd(self._used_key(family), dict.fromkeys(found, now), nx=True)
            self._client.set(marker, 1)
        self._indexed.add(family)

    def _lease(self, namespace: str, field: str) -> StoreLease:
        return _RedisLease(self, namespace, field)

    # -- other processes' writes ------------------------------------------------------

    def _first_use(self) -> None:
        """Once, at the first use: the permissions typed_state needs, and an eviction policy
        that would delete states (said once, as a warning)."""
        if self._checked:
            return
        url = safe_url(self.url)
        probe = f"{self._prefix}probe:{self._origin}"
        try:
            denied = [
                bytes(error).decode() if isinstance(error, bytes) else str(error)
                for error in self._client.register_script(_PROBE)(
                    keys=[f"{probe}:state", f"{probe}:items", f"{probe}:used", f"{probe}:lock"],
                    args=[self._channel, self._message("", [])],
                )
            ]
            try:
                pubsub = self._client.pubsub()
                pubsub.subscribe(self._channel)
                pubsub.ping()
                pubsub.get_message(timeout=1.0)
                pubsub.close()
            except ResponseError:
                denied.append("SUBSCRIBE")
        except ResponseError as exc:  # the script itself refused
            denied = [f"EVAL/EVALSHA ({exc})"]
        except RedisError as exc:
            raise self._failed("open the store", exc) from exc
        if denied:
            raise ConfigurationError(
                f"the Redis user of {url} may not run what typed_state needs: "
                f"{', '.join(dict.fromkeys(denied))} (on typed_state:{self.app}:*). Grant it, "
                "for example: ACL SETUSER <user> "
                "+@hash +@list +@sortedset +@string +@pubsub +@scripting +@keyspace +ping "
                f"~typed_state:{self.app}:* &typed_state:{self.app}:*. Nothing was changed."
            )
        self._checked = True
        self._check_eviction(url)

    def _check_eviction(self, url: str) -> None:
        try:
            found = self._client.config_get("maxmemory-policy")
        except RedisError as exc:
            LOGGER.warning(
                "typed_state: could not read the maxmemory-policy of Redis at %s (%s; CONFIG is "
                "often not allowed on a managed Redis): make sure it is noeviction, or that "
                "this Redis holds nothing else, or a full Redis may delete states",
                url,
                exc,
            )
            return
        policy = str(found.get("maxmemory-policy", ""))
        if policy in _EVICTING:
            message = (
                f"typed_state: Redis at {url} deletes keys when it is full (maxmemory-policy "
                f"{policy}), states (typed_state:{self.app}:*) included: a value no process "
                "holds is then lost, and a write that finds one gone stores nothing or puts "
                "back what its process holds. Set maxmemory-policy noeviction, or keep the "
                "state in a Redis of its own."
            )
            LOGGER.warning(message)
            warnings.warn(message, UserWarning, stacklevel=2)

    def _feed(self) -> Generator[bytes | None, None, None]:
        # Through a typed name: redis-py before 8.2 leaves pubsub() unannotated.
        make_pubsub: Callable[..., PubSub] = self._client.pubsub
        pubsub = make_pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self._channel)
            # Redis answers in order: the PONG means the subscription is in effect.
            pubsub.ping(_SUBSCRIBED)
            master = self._target.master()
            following = False
            while not self._stop.is_set():
                message = pubsub.get_message(timeout=0.5)
                if message is None:
                    if master is not None and self._target.master() != master:
                        # A failover: the subscription is on a demoted master, which
                        # hears no write any more.
                        raise RedisConnectionError(f"the master moved from {master}")
                    if following:
                        yield None
                elif message.get("type") == "message":
                    yield message["data"]
                elif message.get("type") == "pong" and message["data"] == _SUBSCRIBED.encode():
                    following = True
                    yield None
        finally:
            pubsub.close()

    def _refused(self, exc: Exception) -> bool:
        return isinstance(exc, ResponseError) and str(exc).startswith("NOPERM")

    def _resync(self) -> None:
        """After an outage: fill in what Redis lost, then take what it holds."""
        for namespace, ns in list(self._namespaces.items()):
            if not ns.stored:
                continue  # a member nobody wrote: nothing to put back
            if self._restore(namespace, ns):
                self._restored_at = time.monotonic()
            # Every field may have changed, and versions restart with Redis.
            ns.field_versions = dict.fromkeys(ns.field_versions, 0)
            self._fetch(namespace, ns, ns.codec.names)

    def _restore(self, namespace: str, ns: Namespace) -> int:
        """Put back what this process holds of a state Redis lost (restarted without
        persistence), with the change counts this process knows, so that versions do
        not go back (see ``_RESTORE``); how many fields were put back."""
        family = family_of(namespace)
        args: list[Any] = [max(ns.field_versions.values(), default=0)]
        args += [self._items_prefix(namespace), namespace if family else "", _clock.now()]
        for name, value in list(ns.live.items()):
            if name not in ns.unreadable:  # a default shown in place of a value is no value
                args += [name, ns.codec.encode(name, value), ns.changes.get(name, 0)]
        used = self._used_key(family if family is not None else namespace)
        return int(self._restore_script(keys=[self._key(namespace), used], args=args))

    def close(self) -> None:
        super().close()
        self._client.close()


def _fields(stored: Mapping[bytes, Any]) -> dict[str, Any]:
    """The stored fields of a state's hash (its own counters left out), by name."""
    return {name.decode(): value for name, value in stored.items() if not name.startswith(b"__")}


_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
"""Delete a lock only if it still holds the token that was seen (a dead holder's)."""


class _RedisLease(StoreLease):
    """A field's lock in Redis: a redis-py ``redis.lock.Lock`` whose token
    lives on the object (``thread_local=False``), read by the renewing thread and
    by fenced writes."""

    __slots__ = ("_backend", "_what", "lock")

    def __init__(self, backend: RedisBackend, namespace: str, field: str) -> None:
        super().__init__(f"{backend._prefix}lock:{namespace}:{field}")
        self._backend = backend
        self._what = f"{namespace}.{field}"
        self.lock = backend._client.lock(
            self.name, timeout=backend.lock_lease, sleep=self.poll, thread_local=False
        )

    @property
    def token(self) -> Any:
        return self.lock.local.token

    def take(self, timeout: float) -> bool:
        with self._backend._failing(f"lock {self._what}"):
            return super().take(timeout)

    def _try(self, token: str) -> bool:
        return bool(self.lock.acquire(blocking=False, token=token))

    def _holder(self) -> bytes | None:
        holder: bytes | None = self._backend._client.get(self.name)  # type: ignore[assignment]
        return holder

    def _take_from(self, holder: str | bytes, token: str) -> bool:
        client = self._backend._client
        return bool(client.eval(_DELETE_IF, 1, self.name, holder)) and self._try(token)

    def give_back(self) -> None:
        self._while_held(self.lock.release, "release")

    def extend(self) -> None:
        self._while_held(self.lock.reacquire, "renew")

    def _while_held(self, action: Callable[[], object], verb: str) -> None:
        """Release or renew: ``LeaseLost`` if the lease is no longer ours."""
        try:
            action()
        except LockNotOwnedError:
            raise LeaseLost from None
        except (RedisError, LockError) as exc:
            raise self._backend._failed(f"{verb} the lock on {self._what}", exc) from exc


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
