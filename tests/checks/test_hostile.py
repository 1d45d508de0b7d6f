"""Hostile servers: every check ends within its deadline, in a process that stays small."""

import socket
import struct
import zlib

import pytest

DEADLINE = 3.0
SETTINGS = {
    "deadline": DEADLINE,
    "connect_timeout": 2.0,
    "read_timeout": 5.0,  # longer than the trickles' 2 s pauses: only the deadline stops them
    "backoff": 0.05,
    "allow_networks": "127.0.0.0/8",
}
MAX_MB = 300


def _read_head(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _within_limits(result):
    print(f"check took {result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MB")
    assert result["seconds"] < DEADLINE + 0.75, result
    assert result["peak_mb"] < MAX_MB, result
    return result["report"]


def never_answers(conn, stop):
    stop.wait(30)


def trickles_headers(conn, stop):
    _read_head(conn)
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: " + b"z" * 100:
        if stop.wait(2.0):
            return
        conn.sendall(bytes([byte]))


def trickles_tls(conn, stop):
    conn.recv(4096)  # the ClientHello
    conn.sendall(b"\x16\x03\x03\x10\x00")  # a handshake record of 4 KB is coming...
    while not stop.wait(2.0):
        conn.sendall(b"\x02")  # ...a byte at a time


def trickles_body(conn, stop):
    _read_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    while not stop.wait(2.0):
        conn.sendall(b"<")


def huge_body(conn, stop):
    _read_head(conn)
    size = 200 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"<p>" + b"a" * 65533
    for _ in range(size // len(chunk)):
        if stop.is_set():
            return
        conn.sendall(chunk)


def _gzip_bomb(gigabytes: int = 1) -> bytes:
    """About 1 MB that inflates to 1 GB: one 100 MB gzip member, repeated (gzip allows it)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    member = b"".join(comp.compress(zeros) for _ in range(100)) + comp.flush()
    return member * (gigabytes * 1024 // 100)


BOMB = None


def gzip_bomb(conn, stop):
    global BOMB
    BOMB = BOMB or _gzip_bomb()
    _read_head(conn)
    conn.sendall(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Content-Length: %d\r\n\r\n" % len(BOMB)
    )
    conn.sendall(BOMB)


def redirect_loop(conn, stop):
    while not stop.is_set():
        head = _read_head(conn)
        if not head:
            return
        path = head.split(b" ")[1]
        to = b"/b" if path != b"/b" else b"/a"
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % to)


def resets(conn, stop):
    conn.recv(1024)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # with linger 0: the client gets a reset


def test_server_that_never_answers_is_unreachable_at_the_deadline(raw_server, check_in_subprocess):
    server = raw_server(never_answers)
    report = _within_limits(check_in_subprocess(server.url("/"), **SETTINGS))
    assert report["liveness"]["status"] == "unreachable"
    assert "deadline" in report["liveness"]["detail"]


def test_server_trickling_its_headers_cannot_hold_the_check_past_the_deadline(
    raw_server, check_in_subprocess
):
    server = raw_server(trickles_headers)
    report = _within_limits(check_in_subprocess(server.url("/"), **SETTINGS))
    assert report["liveness"]["status"] == "unreachable"
    assert "deadline" in report["liveness"]["detail"]


def test_server_trickling_its_body_cannot_hold_the_check_past_the_deadline(
    raw_server, check_in_subprocess
):
    server = raw_server(trickles_body)
    report = _within_limits(check_in_subprocess(server.url("/"), **SETTINGS))
    assert report["liveness"]["status"] == "unreachable"


def test_200_mb_body_is_cut_at_the_cap_and_the_site_is_up(raw_server, check_in_subprocess):
    server = raw_server(huge_body)
    report = _within_limits(check_in_subprocess(server.url("/"), **SETTINGS))
    assert report["liveness"]["status"] == "up"
    assert "cut at" in report["liveness"]["detail"]


def test_gzip_bomb_is_cut_at_the_cap_after_decompression(raw_server, check_in_subprocess):
    server = raw_server(gzip_bomb)
    result = check_in_subprocess(server.url("/"), **SETTINGS)
    report = _within_limits(result)
    assert report["liveness"]["status"] == "up"
    assert "cut at 5242880 bytes" in report["liveness"]["detail"]


def test_redirect_loop_is_down_and_stops(raw_server, check_in_subprocess):
    server = raw_server(redirect_loop)
    report = _within_limits(check_in_subprocess(server.url("/a"), **SETTINGS))
    assert report["liveness"]["status"] == "down"
    assert "loop" in report["liveness"]["detail"]


def test_connection_reset_is_retried_then_unreachable(raw_server, check_in_subprocess):
    server = raw_server(resets)
    report = _within_limits(check_in_subprocess(server.url("/"), **SETTINGS))
    assert report["liveness"]["status"] == "unreachable"
    assert "reset" in report["liveness"]["detail"]
    assert server.connections == 3


@pytest.mark.parametrize("handler", [never_answers, trickles_tls])
def test_hostile_https_handshake_cannot_hold_the_check(raw_server, check_in_subprocess, handler):
    server = raw_server(handler)
    url = f"https://127.0.0.1:{server.port}/"
    report = _within_limits(check_in_subprocess(url, **SETTINGS))
    assert report["liveness"]["status"] == "unreachable"
