"""Benchmark: `registry check-url --from` over 1,000 healthy local sites, beside LinkChecker.

Each site has its own loopback address (127.10.x.y) with two ports: plain HTTP, which
redirects to HTTPS, and HTTPS (a certificate for that address from a throwaway CA), whose home
page links a privacy policy. Every answer comes after the set latency (50 ms). The servers run
in a separate process (asyncio); the checker and LinkChecker run one after the other against
them, and each is measured for wall time, CPU time (its own, from wait4) and peak memory (its
VmHWM, polled).

    .venv/bin/python tests/bench/check_throughput.py [--sites 1000] [--latency 0.05]

Needs `pip install linkchecker` for the comparison (it is skipped if `linkchecker` is missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HTTP_PORT, HTTPS_PORT = 18080, 18443


def site_ip(i: int) -> str:
    return f"127.10.{i // 250}.{i % 250 + 1}"


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


def _response(status: str, body: bytes, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Sites:
    def __init__(self, n: int, latency: float, stats: Path):
        self.n, self.latency, self.stats = n, latency, stats
        self.requests = 0

    async def handle(self, reader, writer, ip: str, index: int, tls: bool) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests += 1
                path = head.split(b" ", 2)[1].decode("latin-1")
                await asyncio.sleep(self.latency)
                if not tls:
                    location = f"https://{ip}:{HTTPS_PORT}{path}"
                    out = _response("301 Moved Permanently", b"", [("Location", location)])
                elif path == "/":
                    out = _response(
                        "200 OK",
                        HOME % (index, index),
                        [
                            ("Content-Type", "text/html; charset=utf-8"),
                            ("Strict-Transport-Security", "max-age=31536000"),
                        ],
                    )
                elif path == "/privacy":
                    out = _response("200 OK", POLICY, [("Content-Type", "text/html")])
                else:
                    out = _response("404 Not Found", NOT_FOUND, [("Content-Type", "text/html")])
                writer.write(out)
                await writer.drain()
                if b"connection: close" in head.lower():
                    break
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            ssl.SSLError,
            asyncio.LimitOverrunError,
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
                    await asyncio.start_server(on_connect, ip, port, ssl=tls, backlog=256)
                )
        print("ready", flush=True)
        while True:
            self.stats.write_text(json.dumps({"requests": self.requests}))
            await asyncio.sleep(0.2)


# --- measuring -------------------------------------------------------------------------------


def _hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def measure(cmd: list[str], env: dict, stdin: bytes | None = None, stdout=subprocess.DEVNULL):
    """Run a command; return (wall s, CPU s, peak MB, exit code)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.PIPE, stdout=stdout, stderr=subprocess.PIPE
    )
    peak = [0.0]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            hwm = _hwm_mb(proc.pid)
            if hwm:
                peak[0] = max(peak[0], hwm)
            time.sleep(0.02)

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    if stdin:
        proc.stdin.write(stdin)
    proc.stdin.close()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, peak[0], proc.returncode, err.decode(errors="replace")


def cpu_of(pid: int) -> float:
    """CPU seconds a running process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_so_far(stats: Path) -> int:
    return json.loads(stats.read_text())["requests"]


def checker_command() -> list[str]:
    registry = Path(sys.executable).parent / "registry"
    if registry.exists():
        probe = subprocess.run([str(registry), "check-url", "--help"], capture_output=True)
        if probe.returncode == 0:
            return [str(registry), "check-url"]
    return [
        sys.executable,
        "-c",
        os.environ.get("BENCH_PRELUDE", "") + "from checks.cli import check_url; check_url()",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=1000)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        sites = Sites(args.sites, args.latency, Path(args.serve) / "stats.json")
        asyncio.run(sites.serve(Path(args.serve)))
        return

    load = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="check-bench-"))
    work.chmod(0o755)  # LinkChecker run as root drops to "nobody", who must read the CA file
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            str(work),
            "--sites",
            str(args.sites),
            "--latency",
            str(args.latency),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout.readline().strip() == b"ready", "the site servers did not start"
        urls = [f"http://{site_ip(i)}:{HTTP_PORT}/" for i in range(args.sites)]
        (work / "urls.txt").write_text("\n".join(urls) + "\n")
        env = {
            **os.environ,
            "REGISTRY_CHECK_ALLOW_NETWORKS": "127.10.0.0/16",
            "REQUESTS_CA_BUNDLE": str(work / "ca.pem"),
            "PYTHONPATH": str(ROOT),
        }
        from checks.settings import CheckSettings

        concurrency = CheckSettings.from_env(env).max_concurrency
        rows = []

        before = requests_so_far(work / "stats.json")
        server_cpu = cpu_of(server.pid)
        out = open(work / "reports.jsonl", "wb")
        cmd = checker_command() + ["--json", "--from", str(work / "urls.txt")]
        wall, cpu, peak, code, err = measure(cmd, env, stdout=out)
        out.close()
        server_cpu = cpu_of(server.pid) - server_cpu
        time.sleep(0.5)
        made = requests_so_far(work / "stats.json") - before
        verdicts: dict[str, int] = {}
        for line in (work / "reports.jsonl").read_text().splitlines():
            v = json.loads(line)["verdict"]
            verdicts[v] = verdicts.get(v, 0) + 1
            if v != "pass" and verdicts[v] <= 3:
                print("not passed:", line, file=sys.stderr)
        floor = made * args.latency / concurrency
        rows.append(
            ("registry check-url (3 checks)", wall, cpu, peak, made, f"exit {code}, {verdicts}")
        )

        linkchecker = shutil.which("linkchecker") or str(
            Path(sys.executable).parent / "linkchecker"
        )
        if Path(linkchecker).exists():
            cfg = work / "linkcheckerrc"
            cfg.write_text(f"[checking]\nsslverify={work / 'ca.pem'}\n")
            before = requests_so_far(work / "stats.json")
            lc = [
                linkchecker,
                "-r",
                "0",
                "--check-extern",
                "--no-status",
                "-f",
                str(cfg),
                "--stdin",
            ]
            lout = open(work / "linkchecker.txt", "wb")
            lwall, lcpu, lpeak, lcode, _ = measure(
                lc, env, stdin="\n".join(urls).encode(), stdout=lout
            )
            lout.close()
            summary = (work / "linkchecker.txt").read_text().strip().splitlines()
            lnote = next((x for x in summary if "URLs checked" in x), "")
            time.sleep(0.5)
            lmade = requests_so_far(work / "stats.json") - before
            rows.append(
                (
                    "linkchecker -r 0 --check-extern (fetch only)",
                    lwall,
                    lcpu,
                    lpeak,
                    lmade,
                    f"exit {lcode}; {lnote}",
                )
            )
        else:
            print("linkchecker not found: pip install linkchecker to compare", file=sys.stderr)

        print(
            f"{args.sites} sites, {args.latency * 1000:.0f} ms per answer, checker concurrency {concurrency}"
        )
        print(f"machine: {os.cpu_count()} cores, load average {load:.2f} when the run began")
        print(f"{'tool':48} {'wall s':>7} {'CPU s':>7} {'peak MB':>8} {'requests':>9}  notes")
        for name, w, c, p, n, note in rows:
            print(f"{name:48} {w:7.2f} {c:7.2f} {p:8.1f} {n:9d}  {note}")
        print(
            f"floor for the checker: {made} requests x {args.latency * 1000:.0f} ms / {concurrency} in flight"
            f" = {floor:.2f} s; checker wall / floor = {wall / floor:.2f}"
        )
        print(f"the site servers used {server_cpu:.2f} s of CPU during the checker's run")
        targets = [
            ("within 1.5x of the floor", wall <= 1.5 * floor),
            ("under 150 MB", peak < 150),
            ("every URL passed", verdicts.get("pass", 0) == args.sites),
        ]
        if len(rows) > 1:
            targets.insert(0, ("faster than LinkChecker's fetch alone", wall < rows[1][1]))
        print("targets: " + "; ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in targets))
        if code not in (0, 1):
            print(err, file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
