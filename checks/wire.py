"""What comes over the wire: bodies decoded and capped, errors named, certificate dates read."""

from __future__ import annotations

import email.utils
import http.client
import math
import ssl
import time
import zlib
from dataclasses import dataclass

# urllib3's own errors: a body is read from requests' raw urllib3 response (fetch.py streams it,
# to cap and decode it as it comes), and there urllib3 raises them without requests' wrapping.
from urllib3.exceptions import ConnectTimeoutError, ProxyError, ReadTimeoutError

from checks import net
from checks.guard import GuardRefused, NameNotResolved

CHUNK = 64 * 1024


@dataclass
class FetchError:
    """Why a fetch got no usable answer: kind is a short code, message says it for people."""

    kind: str  # guard dns dns_temporary deadline proxy tls_cert tls refused reset timeout protocol
    #            redirect_loop too_many_redirects bad_redirect
    message: str
    verify_code: int | None = None


def _chain(exc: BaseException) -> list[BaseException]:
    """List an exception and every exception it wraps, nearest first."""
    out, stack, seen = [], [exc], set()
    while stack:
        e = stack.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        more = [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
        stack += [m for m in more if isinstance(m, BaseException)]
    return out


def classify(exc: BaseException, deadline: net.Deadline) -> FetchError:
    """Turn an exception from urllib3, ssl or the guard into a FetchError."""
    chain = _chain(exc)

    def find(*types):
        return next((e for e in chain if isinstance(e, types)), None)

    if e := find(GuardRefused):
        return FetchError("guard", str(e))
    if e := find(NameNotResolved):
        return FetchError("dns_temporary" if e.temporary else "dns", str(e))
    if find(net.DeadlineExceeded) or deadline.expired:
        return FetchError("deadline", f"gave up at the deadline of {deadline.seconds:g} s")
    if find(ProxyError):
        if e := find(ConnectTimeoutError):  # urllib3's NewConnectionError is one, too
            conn = getattr(e, "conn", None)
            where = f" at {conn.host}:{conn.port}" if conn is not None else ""
            why = "connection refused" if find(ConnectionRefusedError) else "no answer in time"
            return FetchError("proxy", f"could not connect to the proxy{where} ({why})")
        said = [str(x) for x in chain if type(x) is OSError]  # "Tunnel connection failed: 403"
        why = said[-1] if said else "no reason given"
        return FetchError("proxy", f"the proxy did not connect to the site: {why}")
    if e := find(ssl.SSLCertVerificationError):
        return FetchError("tls_cert", f"certificate: {e.verify_message}", e.verify_code)
    if e := find(ConnectionRefusedError):
        return FetchError("refused", "connection refused")
    if e := find(
        ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, http.client.IncompleteRead
    ):
        return FetchError("reset", "connection reset or closed by the server")
    if e := find(ssl.SSLError):
        return FetchError("tls", f"TLS failed: {getattr(e, 'reason', None) or e}")
    if find(ConnectTimeoutError):
        return FetchError("timeout", "timed out connecting")
    if find(ReadTimeoutError, TimeoutError):
        return FetchError("timeout", "timed out waiting for the server")
    return FetchError("protocol", f"bad answer from the server: {exc}")


def retry_after(headers) -> float | None:
    """Read Retry-After as seconds (a number or an HTTP date), or None."""
    value = headers.get("Retry-After", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class _Decoder:
    """Decompress gzip or deflate a piece at a time, never past a limit."""

    def __init__(self, encoding: str):
        self.wbits = 16 + zlib.MAX_WBITS if encoding in ("gzip", "x-gzip") else zlib.MAX_WBITS
        self.raw_deflate_tried = encoding in ("gzip", "x-gzip")
        self.d = zlib.decompressobj(self.wbits)

    def feed(self, data: bytes, limit: int) -> bytes:
        out = b""
        while data and len(out) <= limit:
            try:
                out += self.d.decompress(data, limit + 1 - len(out))
            except zlib.error:
                if self.raw_deflate_tried or out:
                    raise
                self.raw_deflate_tried = True  # "deflate" sent without its zlib header
                self.d = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            self.raw_deflate_tried = True
            if self.d.unconsumed_tail:
                break  # limit reached
            data = self.d.unused_data if self.d.eof else b""
            if data:  # another gzip member follows
                self.d = zlib.decompressobj(self.wbits)
        return out


def read_body(resp, cap: int) -> tuple[bytes, bool, str]:
    """Read and decompress a body up to cap bytes; return it, whether it was cut, and a note.

    resp is the urllib3 response under a streamed requests.Response (its .raw).
    """
    encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
    decoder = None
    if encoding in ("gzip", "x-gzip", "deflate"):
        decoder = _Decoder(encoding)
    elif encoding not in ("", "identity"):
        return b"", False, f"body in an encoding the checker does not read ({encoding})"
    out, raw_total, note = bytearray(), 0, ""
    while True:
        chunk = resp.read(CHUNK, decode_content=False)
        if not chunk:
            return bytes(out), False, note
        raw_total += len(chunk)
        if decoder:
            try:
                chunk = decoder.feed(chunk, cap - len(out))
            except zlib.error:
                return bytes(out), True, "corrupt compressed body"
        out += chunk
        if len(out) > cap or raw_total > cap:
            del out[cap:]
            return bytes(out), True, f"body cut at {cap} bytes"


def cert_days(resp) -> int | None:
    """Return the whole days the response's verified certificate has left, or None."""
    conn = getattr(resp, "connection", None)
    sock = getattr(conn, "sock", None)
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cached = getattr(conn, "_checks_cert_days", "unset")
    if cached != "unset":
        return cached
    cert = sock.getpeercert()  # empty when the certificate was not verified
    days = None
    if cert and cert.get("notAfter"):
        left = ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()
        days = math.floor(left / 86400)
    conn._checks_cert_days = days  # type: ignore[union-attr]
    return days
