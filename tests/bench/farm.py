"""A farm of healthy loopback sites for the benchmarks, and a way to measure a process tree.

Each site has its own loopback address (127.10.x.y) with two ports: plain HTTP (18080), which
redirects to HTTPS, and HTTPS (18443, a certificate for that address from a throwaway CA). Its
home page, at `/` and at any `/r/N`, links a privacy policy at `/privacy`; anything else is a
404. Every answer comes after the set latency. The servers run in a process of their own
(asyncio), started by `Farm`; `measure` runs a command and records its wall time, the CPU
time of it and every process under it, and the peak of the summed memory of that tree.

Used by check_throughput.py and nightly_scale.py; run by hand, never by pytest.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HTTP_PORT, HTTPS_PORT = 18080, 18443
ALLOW_NETWORKS = "127.10.0.0/16"
PER_BLOCK = 250  # addresses used in each 127.10.x.0/24


def site_ip(i: int) -> str:
    """Return the loopback address of site i (0-based)."""
    return f"127.10.{i // PER_BLOCK}.{i % PER_BLOCK + 1}"


def site_url(i: int, path: str = "/", *, https: bool = False) -> str:
    """Return a URL on site i: http:// (which redirects) or straight to https://."""
    if https:
        return f"https://{site_ip(i)}:{HTTPS_PORT}{path}"
    return f"http://{site_ip(i)}:{HTTP_PORT}{path}"


# --- the sites -------------------------------------------------------------------------------

HOME = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Resource %d</title></head>"
    b"<body><h1>Resource %d</h1><p>Self-management for bipolar disorder.</p>"
    b"<footer><a href='/about'>About</a> <a href='/privacy'>Privacy policy</a></footer>"
    b"</body></html>"
)
POLICY = (
    b"<!doctype html><title>Privacy policy</title><h1>Privacy policy</h1><p>We keep little.</p>"
)
NOT_FOUND = b"<!doctype html><title>Not found</title><h1>Not found</h1>"
HOME_PATH = re.compile(r"^/(r/\d+)?$")


def _response(status: str, body: bytes, headers: list[tuple[str, str]], *, head: bool) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head else body)


class Sites:
    def __init__(self, n: int, latency: float, stats: Path):
        self.n, self.latency, self.stats = n, latency, stats
        self.requests = 0

    def answer(self, method: str, path: str, ip: str, index: int, tls: bool) -> bytes:
        head = method == "HEAD"
        if not tls:
            location = f"https://{ip}:{HTTPS_PORT}{path}"
            return _response("301 Moved Permanently", b"", [("Location", location)], head=head)
        page = path.split("?", 1)[0]
        if HOME_PATH.match(page):
            return _response(
                "200 OK",
                HOME % (index, index),
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Strict-Transport-Security", "max-age=31536000"),
                ],
                head=head,
            )
        if page == "/privacy":
            return _response("200 OK", POLICY, [("Content-Type", "text/html")], head=head)
        return _response("404 Not Found", NOT_FOUND, [("Content-Type", "text/html")], head=head)

    async def handle(self, reader, writer, ip: str, index: int, tls: bool) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                method, path = head.split(b" ", 2)[:2]
                await asyncio.sleep(self.latency)
                writer.write(self.answer(method.decode(), path.decode("latin-1"), ip, index, tls))
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            ssl.SSLError,
            asyncio.LimitOverrunError,
            ValueError,
        ):
            pass
        finally:
            writer.close()

    async def serve(self, ca_dir: Path) -> None:
        import trustme

        ca = trustme.CA()
        ca.cert_pem.write_to_path(str(ca_dir / "ca.pem"))
        servers = []
        for i in range(self.n):
            ip = site_ip(i)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(ip).configure_cert(ctx)
            for port, tls in ((HTTP_PORT, None), (HTTPS_PORT, ctx)):

                async def on_connect(r, w, ip=ip, i=i, tls=tls is not None):
                    await self.handle(r, w, ip, i, tls)

                servers.append(
                    await asyncio.start_server(on_connect, ip, port, ssl=tls, backlog=1024)
                )
        self.stats.write_text(json.dumps({"requests": 0}))
        print("ready", flush=True)
        while True:
            tmp = self.stats.with_suffix(".tmp")
            tmp.write_text(json.dumps({"requests": self.requests}))
            tmp.replace(self.stats)
            await asyncio.sleep(0.1)


class Farm:
    """The site servers in their own process: a context manager; `ca` is the CA's PEM file."""

    def __init__(self, sites: int, latency: float):
        self.sites, self.latency = sites, latency
        self.dir = Path(tempfile.mkdtemp(prefix="bench-farm-"))
        self.dir.chmod(0o755)  # LinkChecker run as root drops to "nobody", who must read the CA
        self.ca = self.dir / "ca.pem"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Farm:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.dir), "--sites", str(self.sites),
             "--latency", str(self.latency)],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        line = self.proc.stdout.readline().strip()
        if line != b"ready":
            self.__exit__()
            raise RuntimeError(
                "the site servers did not start (is 127.10.0.0/16 usable and are ports "
                f"{HTTP_PORT} and {HTTPS_PORT} free on it?)"
            )
        return self

    def __exit__(self, *_exc) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def requests(self) -> int:
        """Requests the sites have answered so far (read after a pause, to let it settle)."""
        time.sleep(0.3)
        return json.loads((self.dir / "stats.json").read_text())["requests"]

    def cpu(self) -> float:
        """CPU seconds the site servers have used so far."""
        assert self.proc is not None
        return proc_cpu(self.proc.pid, children=False)


# --- measuring a process tree ----------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MB = 1024 * 1024
POLL = 0.02
PR_SET_CHILD_SUBREAPER = 36


def _stat(pid: int) -> list[str]:
    # Fields after the command name, which may hold spaces: [0] is state, [1] ppid.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_cpu(pid: int, *, children: bool = True) -> float:
    """CPU seconds of a live process: utime + stime (and cutime + cstime, its reaped children)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICK


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    except OSError:
        pass
    return out


def tree(root: int) -> list[int]:
    """Return root and all its descendants now alive."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += _children(pid)
    return found


def _rss(pid: int) -> int:
    try:
        fields = _stat(pid)
    except OSError:
        return 0
    return 0 if fields[0] == "Z" else int(fields[21]) * PAGE


def _kib_field(path: str, name: str) -> int:
    """Read a "Name:  123 kB" line of a /proc file, in bytes (0 when the process is gone)."""
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pss(pid: int) -> int:
    return _kib_field(f"/proc/{pid}/smaps_rollup", "Pss")


def _hwm(pid: int) -> int:
    return _kib_field(f"/proc/{pid}/status", "VmHWM")


def _subreaper(on: bool) -> None:
    """Adopt (or stop adopting) orphaned descendants, so their CPU reaches our wait4."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)


@dataclass
class Measured:
    wall: float  # seconds
    cpu: float  # seconds: the command and every process under it, user + system
    peak_mb: float  # the peak of the summed RSS of the tree, polled every 20 ms
    pss_mb: float  # the same for PSS: pages shared between the processes counted once
    hwm_mb: float  # the command's own process: its VmHWM (a peak between polls shows here)
    most_processes: int  # processes alive at once in the tree, at most
    processes: int  # distinct processes seen in the tree
    code: int
    stderr: str
    leftover: int  # descendants still running when the command ended
    lingered: float  # seconds the last of those ran on after it (killed after 10 s)
    killed: int  # how many of those had to be killed

    @property
    def seen(self) -> str:
        if self.processes == 1:
            return "1 process"
        text = f"{self.processes} processes, {self.most_processes} at once"
        if self.leftover:
            text += f"; {self.leftover} ran on after it ended, {self.lingered:.1f} s" + (
                f", {self.killed} killed" if self.killed else ""
            )
        return text


def measure(cmd: list[str], env: dict, *, stdin: bytes | None = None, stdout=None) -> Measured:
    """Run a command; measure it and every process it starts."""
    _subreaper(True)
    err = tempfile.TemporaryFile()
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=stdout if stdout is not None else subprocess.DEVNULL,
            stderr=err,
        )
        peak, pss, most, hwm = [0], [0], [1], [0]
        seen: set[int] = set()
        last: list[int] = [proc.pid]
        done = threading.Event()

        def poll() -> None:
            while not done.is_set():
                pids = tree(proc.pid)
                seen.update(pids)
                last[:] = pids
                peak[0] = max(peak[0], sum(_rss(p) for p in pids))
                pss[0] = max(pss[0], sum(_pss(p) for p in pids))
                most[0] = max(most[0], len(pids))
                hwm[0] = max(hwm[0], _hwm(proc.pid))
                done.wait(POLL)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        if stdin:
            proc.stdin.write(stdin)
        proc.stdin.close()
        _, status, usage = os.wait4(proc.pid, 0)  # includes the children it waited for
        wall = time.perf_counter() - started
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        cpu = usage.ru_utime + usage.ru_stime
        cpu_orphans, leftover, lingered, killed = _reap_orphans(set(seen) - {proc.pid})
        err.seek(0)
        text = err.read().decode(errors="replace")
    finally:
        err.close()
        _subreaper(False)
    return Measured(
        wall=wall,
        cpu=cpu + cpu_orphans,
        peak_mb=peak[0] / MB,
        pss_mb=pss[0] / MB,
        hwm_mb=hwm[0] / MB,
        most_processes=most[0],
        processes=len(seen),
        code=proc.returncode,
        stderr=text,
        leftover=leftover,
        lingered=lingered,
        killed=killed,
    )


def _reap_orphans(pids: set[int], wait: float = 10.0) -> tuple[float, int, float, int]:
    """Wait for descendants that outlived the command (now ours), killing any after `wait`.

    Return their CPU, how many were still running, how long the last ran on, how many killed.
    """
    ended = time.monotonic()
    mine = [p for p in pids if p in _children(os.getpid())]
    running = [p for p in mine if not _is_zombie(p)]
    cpu, killed, last = 0.0, 0, ended
    for pid in mine:
        sent = False
        while True:
            got, _status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                cpu += usage.ru_utime + usage.ru_stime
                last = max(last, time.monotonic())
                break
            if not sent and time.monotonic() > ended + wait:
                os.kill(pid, signal.SIGKILL)
                sent, killed = True, killed + 1
            time.sleep(0.01)
    return cpu, len(running), (last - ended) if running else 0.0, killed


def _is_zombie(pid: int) -> bool:
    try:
        return _stat(pid)[0] == "Z"
    except OSError:
        return True


def main() -> None:
    ap = argparse.ArgumentParser(description="Serve the farm (the benchmarks start it).")
    ap.add_argument("--serve", required=True, help="folder for the CA and the request count")
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    if args.sites > 256 * PER_BLOCK:
        sys.exit(f"at most {256 * PER_BLOCK} sites")
    sites = Sites(args.sites, args.latency, Path(args.serve) / "stats.json")
    asyncio.run(sites.serve(Path(args.serve)))


if __name__ == "__main__":
    main()
