"""Sockets that honour a per-URL deadline, and connections pinned to the guarded address.

The pools and connections here are urllib3's, under requests (checks/transport.py mounts them
in its adapter): requests offers no hook to choose the address a connection is made to, and the
guard must connect to the very address it checked, so the connection class is the place.
"""

from __future__ import annotations

import contextlib
import contextvars
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import certifi
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from checks import guard, lazy
from checks.settings import CheckSettings


class Deadline:
    """A point in time after which no socket operation of a check may wait."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.at - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0


class DeadlineExceeded(TimeoutError):
    """The check's total deadline passed."""


@dataclass
class NetContext:
    """What the connections of one check need: its settings and its deadline."""

    settings: CheckSettings
    deadline: Deadline


_current: contextvars.ContextVar[NetContext | None] = contextvars.ContextVar(
    "checks_net_context", default=None
)


@contextlib.contextmanager
def use(ctx: NetContext) -> Iterator[NetContext]:
    """Make a check's context current for the sockets opened in this thread."""
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


def current() -> NetContext:
    ctx = _current.get()
    if ctx is None:  # fail closed: no connection without a guard in effect
        raise RuntimeError("checks.net used outside a check; no network guard in effect")
    return ctx


class _DeadlineMixin:
    """Cap every blocking call at the time left before the deadline, so trickling can't stall."""

    _wanted: float | None = None

    def settimeout(self, value: float | None) -> None:
        self._wanted = value
        super().settimeout(value)  # type: ignore[misc]

    def _arm(self) -> None:
        ctx = _current.get()
        if ctx is None:
            return
        left = ctx.deadline.remaining()
        if left <= 0:
            raise DeadlineExceeded(f"deadline of {ctx.deadline.seconds:g} s passed")
        wanted = self._wanted
        super().settimeout(left if wanted is None else min(wanted, left))  # type: ignore[misc]


class DeadlineSocket(_DeadlineMixin, socket.socket):
    def connect(self, address) -> None:
        self._arm()
        super().connect(address)

    def recv(self, *args):
        self._arm()
        return super().recv(*args)

    def recv_into(self, *args):
        self._arm()
        return super().recv_into(*args)

    def send(self, *args):
        self._arm()
        return super().send(*args)

    def sendall(self, *args):
        self._arm()
        return super().sendall(*args)


class DeadlineSSLSocket(_DeadlineMixin, ssl.SSLSocket):
    # CPython bounds a whole TLS read, write or handshake by the socket timeout.
    def do_handshake(self, *args):
        self._arm()
        return super().do_handshake(*args)

    def read(self, *args):
        self._arm()
        return super().read(*args)

    def write(self, *args):
        self._arm()
        return super().write(*args)

    def send(self, *args):
        self._arm()
        return super().send(*args)

    def sendall(self, *args):
        self._arm()
        return super().sendall(*args)


def _open(ip: str, port: int, timeout: float | None, limit: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = DeadlineSocket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(limit)
        sock.connect((ip, port))
        sock.settimeout(timeout if isinstance(timeout, int | float) else None)
    except BaseException:
        sock.close()
        raise
    return sock


def _connect(host: str, port: int, timeout: float | None, *, to_proxy: bool) -> socket.socket:
    ctx = current()
    s = ctx.settings
    left = ctx.deadline.remaining()
    if left <= 0:
        raise DeadlineExceeded(f"deadline of {ctx.deadline.seconds:g} s passed")
    limit = min(s.connect_timeout, left)
    if to_proxy:
        # The proxy is the administrator's choice, often on the trust's own network: it is not
        # held to the guard (transport.check_before_proxy checks the target instead).
        pairs = guard.resolve(host, port, resolver=s.resolver, timeout=limit)
        return _open(pairs[0][0], pairs[0][1], timeout, limit)
    ip, port = guard.pin(host, port, allow=s.allow_networks, resolver=s.resolver, timeout=limit)
    return _open(str(ip), port, timeout, limit)


class _GuardedMixin:
    def _new_conn(self) -> socket.socket:
        to_proxy = self.proxy is not None  # type: ignore[attr-defined]
        try:
            return _connect(self._dns_host, self.port, self.timeout, to_proxy=to_proxy)  # type: ignore[attr-defined]
        except TimeoutError as exc:
            if isinstance(exc, DeadlineExceeded):
                raise
            raise ConnectTimeoutError(self, f"connecting to {self.host} timed out") from exc  # type: ignore[attr-defined]
        except OSError as exc:
            raise NewConnectionError(self, f"failed to connect: {exc}") from exc


class GuardedHTTPConnection(_GuardedMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection

    def _validate_conn(self, conn) -> None:
        # As urllib3 does, minus its warning: reading a site with a bad certificate is deliberate
        # here (the certificate is reported; the page is only looked at).
        if conn.is_closed:
            conn.connect()


# What transport.GuardedAdapter gives its pool managers, direct and through a proxy.
POOL_CLASSES = {"http": _HTTPPool, "https": _HTTPSPool}


@lazy.once
def ssl_context(ca_bundle: str | None, verify: bool = True) -> ssl.SSLContext:
    """Build (once) the TLS context: verifying against the bundle, or not verifying at all."""
    if verify:
        ctx = ssl.create_default_context(cafile=ca_bundle or certifi.where())
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    ctx.sslsocket_class = DeadlineSSLSocket
    return ctx


class Limiter:
    """Bound the requests in flight, overall and per host."""

    def __init__(self, total: int, per_host: int):
        self._total = threading.BoundedSemaphore(total)
        self._per_host = per_host
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, host: str, deadline: Deadline) -> Iterator[None]:
        with self._lock:
            sem = self._hosts.get(host)
            if sem is None:
                sem = self._hosts[host] = threading.BoundedSemaphore(self._per_host)
        if not sem.acquire(timeout=max(deadline.remaining(), 0)):
            raise DeadlineExceeded("deadline passed waiting for a free slot for the host")
        try:
            if not self._total.acquire(timeout=max(deadline.remaining(), 0)):
                raise DeadlineExceeded("deadline passed waiting for a free request slot")
            try:
                yield
            finally:
                self._total.release()
        finally:
            sem.release()
