"""The checks spread over worker processes: the same reports, as politely, and nothing left over.

Sites here are on bare loopback addresses (127.0.0.x): worker processes have no resolver hook.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import pytest

import checks
from checks import net, schedule

WORKERS = 2


@pytest.fixture
def procs(settings):
    """Settings that run a batch over two worker processes (no resolver: bare addresses)."""
    return settings.with_(resolver=None, workers=WORKERS)


class _Gauge:
    """Count the requests in flight, per server address and overall; keep the most seen."""

    def __init__(self):
        self.now, self.peak = Counter(), Counter()
        self.lock = threading.Lock()

    def slow(self, page, delay: float):
        def answer(handler):
            ip = handler.server.site.ip
            with self.lock:
                for key in (ip, "all"):
                    self.now[key] += 1
                    self.peak[key] = max(self.peak[key], self.now[key])
            time.sleep(delay)
            with self.lock:
                for key in (ip, "all"):
                    self.now[key] -= 1
            return page

        return answer


def _site(web, ip: str, *, policy_at: str = "/privacy", gauge=None, delay: float = 0.0):
    """Start an HTTPS site on ip whose every page links its privacy policy (at policy_at).

    Every path is an entry's page, but for the paths the checker makes up to see how the site
    answers for a page that cannot exist.
    """
    site = web.site(ip, tls=web.tls_context(ip))
    home = web.page(
        body=f'<title>Peer support</title><a href="{policy_at}">Privacy policy</a>',
        headers={"Strict-Transport-Security": "max-age=31536000"},
    )
    policy = web.page(body="<h1>Privacy policy</h1><p>We keep your data safe.</p>")
    missing, entry = site.fallback, gauge.slow(home, delay) if gauge else (lambda h: home)
    site.fallback = lambda h: missing if "/registry-check-" in h.path else entry(h)
    site.routes["/privacy"] = gauge.slow(policy, delay) if gauge else policy
    return site


def _pages(site, prefix: str) -> set[str]:
    """Return the entries' pages (prefix and a number) a site was asked for."""
    return {p for p in site.requests if p.startswith(prefix) and p[len(prefix) :].isdigit()}


def _worker_pids(parent: int) -> list[int]:
    """Return the check worker processes (spawned by multiprocessing) of a parent, alive."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
        except OSError:
            continue
        if int(ppid) == parent and state != "Z" and b"spawn_main" in command:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _owner_of_connection(port: int, pids: list[int]) -> int | None:
    """Return which of pids holds the TCP connection whose local port is port."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    return pid
            except OSError:
                continue
    return None


def _comparable(report: checks.Report) -> dict:
    """A report without what differs from one check to the next (times)."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("checked_at", "elapsed_ms")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return strip(report.to_dict())


def _mixed_targets(web) -> list[checks.Target]:
    """Entries that pass, and entries that fail in several ways; more units than threads take."""
    good = _site(web, "127.0.0.2")
    good.routes["/gone"] = web.page(410, "<title>Gone</title><h1>Gone</h1>")
    good.routes["/broken"] = web.page(500, "<title>Error</title>")
    bare = web.site("127.0.0.3", tls=web.tls_context("127.0.0.3"))
    bare.fallback = web.page(body="<title>No policy here</title><p>Hello</p>")
    store = web.site("127.0.0.4", tls=web.tls_context("127.0.0.4"))
    store.routes["/app/1"] = web.page(body="<title>Calm Mind on the App Store</title>")
    targets = []
    for i in range(4):
        targets += [
            checks.Target(good.url(f"/service/{i}")),
            checks.Target(good.url("/gone")),
            checks.Target(bare.url(f"/page/{i}")),
            checks.Target(
                good.url(f"/app/{i}"), ios_url=store.url("/app/1"), android_url=store.url("/x")
            ),
        ]
    targets += [checks.Target(good.url("/broken")), checks.Target("https://127.0.0.5:9/")]
    return targets


def test_reports_over_processes_are_the_reports_checked_in_threads(web, procs):
    targets = _mixed_targets(web)
    in_threads = list(checks.iter_check_targets(targets, settings=procs.with_(workers=1)))
    over_processes = {}
    with checks.CheckBatch(targets, settings=procs) as batch:
        while not batch.done:
            over_processes.update(batch.wait(timeout=5))
            assert len(_worker_pids(os.getpid())) == WORKERS  # the work is in other processes
    assert [_comparable(over_processes[i]) for i in range(len(targets))] == [
        _comparable(r) for r in in_threads
    ]
    verdicts = Counter(r.verdict for r in in_threads)
    assert verdicts["pass"] >= 4 and verdicts["fail"] >= 6, verdicts
    assert [s.status for s in in_threads[3].stores] == ["listed", "removed"]


@pytest.mark.parametrize("case", ["few units", "a resolver", "a limiter", "one process"])
def test_batches_processes_would_not_speed_up_run_in_this_process(web, procs, case):
    site = _site(web, "127.0.0.2", gauge=_Gauge(), delay=0.1)
    urls = [site.url(f"/entry/{i}") for i in range(4 if case == "few units" else 16)]
    settings, limiter = procs.with_(max_per_host=4), None
    if case == "a resolver":
        settings = settings.with_(resolver=lambda host, port: [(host, port)])
    elif case == "a limiter":
        limiter = net.Limiter(settings.max_concurrency, settings.max_per_host)
    elif case == "one process":
        settings = settings.with_(workers=1)
    with checks.CheckBatch(urls, settings=settings, limiter=limiter) as batch:
        got = dict(batch.wait(timeout=5))
        assert _worker_pids(os.getpid()) == []
        while not batch.done:
            got.update(batch.wait())
    assert [got[i].verdict for i in range(len(urls))] == ["pass"] * len(urls)


def test_reports_come_in_input_order_though_the_first_answers_last(web, procs):
    site = _site(web, "127.0.0.2")
    site.routes["/slow"] = web.page(body='<a href="/privacy">Privacy</a>', delay=0.8)
    urls = [site.url("/slow")] + [site.url(f"/quick/{i}") for i in range(19)]
    reports = list(checks.iter_check_urls(urls, settings=procs.with_(max_per_host=4)))
    assert [r.url for r in reports] == urls
    assert [r.verdict for r in reports] == ["pass"] * 20


def test_no_more_than_the_per_host_limit_reach_any_host_across_processes(web, procs):
    gauge = _Gauge()
    ips = [f"127.0.0.{n}" for n in range(2, 6)]
    sites = [_site(web, ip, gauge=gauge, delay=0.1) for ip in ips]
    urls = [site.url(f"/entry/{i}") for i in range(6) for site in sites]
    reports = checks.check_urls(urls, settings=procs.with_(max_per_host=2, max_concurrency=16))
    assert [r.verdict for r in reports] == ["pass"] * len(urls)
    assert [gauge.peak[ip] for ip in ips] == [2] * len(ips)


def test_no_more_than_the_overall_limit_are_in_flight_across_processes(web, procs):
    gauge = _Gauge()
    sites = [_site(web, f"127.0.0.{n}", gauge=gauge, delay=0.1) for n in range(2, 6)]
    urls = [site.url(f"/entry/{i}") for i in range(5) for site in sites]
    # Each worker runs two threads: four could be in flight, were the limit not shared.
    reports = checks.check_urls(urls, settings=procs.with_(max_per_host=2, max_concurrency=3))
    assert [r.verdict for r in reports] == ["pass"] * len(urls)
    assert gauge.peak["all"] == 3


def test_requests_to_another_host_keep_its_limit_across_processes(web, procs):
    # Entries on 127.0.0.2 keep their privacy policy on 127.0.0.3, which has entries of its own:
    # its requests come from the checks of both hosts, in both workers.
    gauge = _Gauge()
    other = _site(web, "127.0.0.3", gauge=gauge, delay=0.05)
    site = _site(web, "127.0.0.2", policy_at=other.url("/privacy"), gauge=gauge, delay=0.05)
    urls = [u for i in range(8) for u in (site.url(f"/a/{i}"), other.url(f"/b/{i}"))]
    reports = checks.check_urls(urls, settings=procs.with_(max_per_host=1, max_concurrency=8))
    assert [r.privacy.status for r in reports] == ["found"] * len(urls)
    assert other.requests.count("/privacy") >= 16
    assert gauge.peak["127.0.0.3"] == 1


def test_a_worker_killed_mid_check_fails_its_entry_and_the_others_still_pass(web, procs):
    doomed_at = {}
    hit = threading.Event()

    def doomed(handler):
        doomed_at["port"] = handler.client_address[1]
        hit.set()
        time.sleep(1.5)
        return web.page(body='<a href="/privacy">Privacy</a>')

    host = _site(web, "127.0.0.2")
    host.routes["/doomed"] = doomed
    other = _site(web, "127.0.0.3")
    # After the doomed entry, more on its host: they need the slot the killed worker held.
    urls = [host.url("/doomed")] + [other.url(f"/e/{i}") for i in range(10)]
    urls += [host.url(f"/after/{i}") for i in range(6)]
    one_each = procs.with_(max_per_host=1, max_concurrency=2, deadline=3)
    got, killed = {}, None
    with checks.CheckBatch(urls, settings=one_each) as batch:
        while not batch.done:
            got.update(batch.wait(timeout=0.05))
            if hit.is_set() and killed is None:
                killed = _owner_of_connection(doomed_at["port"], _worker_pids(os.getpid()))
                assert killed is not None
                os.kill(killed, signal.SIGKILL)
    assert not _alive(killed)
    assert sorted(got) == list(range(len(urls)))
    first = got[0]
    assert first.verdict == "fail"
    assert first.liveness.status == "unreachable"
    assert "the checker failed" in first.liveness.detail
    assert "worker process was killed by SIGKILL" in first.liveness.detail
    assert [got[i].verdict for i in range(1, len(urls))] == ["pass"] * (len(urls) - 1)


@pytest.mark.parametrize(
    "error", [None, RuntimeError, KeyboardInterrupt], ids=["at the end", "raise", "Ctrl-C"]
)
def test_no_worker_process_outlives_its_batch(web, procs, error):
    site = _site(web, "127.0.0.2", gauge=_Gauge(), delay=0.3)
    urls = [site.url(f"/entry/{i}") for i in range(16)]
    batch = checks.CheckBatch(urls, settings=procs.with_(max_per_host=8))
    with pytest.raises(error) if error else contextlib.nullcontext():
        with batch:
            assert batch.wait(timeout=5)  # the workers are at work
            assert len(_worker_pids(os.getpid())) == WORKERS
            started = time.monotonic()
            if error:
                raise error
            while not batch.done:
                batch.wait()
    if error:
        assert time.monotonic() - started < 1.5  # did not wait for the checks under way
    assert _worker_pids(os.getpid()) == []
    served = len(site.requests)
    time.sleep(0.6)
    assert len(site.requests) == served  # nothing goes on behind the caller's back


@pytest.mark.parametrize("workers", [1, WORKERS])
def test_a_reader_that_stops_reading_stops_the_batch_running_ahead(web, procs, workers):
    site = _site(web, "127.0.0.2")
    urls = [site.url(f"/entry/{i}") for i in range(24)]
    quick = procs.with_(workers=workers, max_concurrency=2, max_per_host=2)
    window = schedule.UNREAD_PER_SLOT * quick.max_concurrency
    with checks.CheckBatch(urls, settings=quick) as batch:
        batch.start()
        until = time.monotonic() + 10
        while len(_pages(site, "/entry/")) < window and time.monotonic() < until:
            time.sleep(0.05)
        time.sleep(0.5)  # a reader held up (the database away): nothing is read
        ahead = len(_pages(site, "/entry/"))
        assert window <= ahead <= window + quick.max_concurrency
        got = {}
        while not batch.done:
            got.update(batch.wait(timeout=5))
    assert sorted(got) == list(range(24))
    assert all(r.verdict == "pass" for r in got.values())


def _registry(*args: str, env: dict) -> subprocess.Popen:
    command = os.path.join(os.path.dirname(sys.executable), "registry")
    return subprocess.Popen(
        [command, *args],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def cli_env(ca_bundle):
    return {
        "REGISTRY_CHECK_ALLOW_NETWORKS": "127.0.0.0/8",
        "REQUESTS_CA_BUNDLE": ca_bundle,
        "REGISTRY_CHECK_DEADLINE": "5",
        "REGISTRY_CHECK_WORKERS": str(WORKERS),
    }


def test_check_url_prints_the_reports_of_its_workers_in_input_order(web, cli_env, tmp_path):
    site = _site(web, "127.0.0.2")
    site.routes["/gone"] = web.page(410, "<title>Gone</title>")
    urls = [site.url("/gone") if i % 5 == 0 else site.url(f"/entry/{i}") for i in range(20)]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    process = _registry("check-url", "--json", "--from", str(listing), env=cli_env)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    reports = [json.loads(line) for line in out.splitlines()]
    assert [r["url"] for r in reports] == urls
    assert [r["verdict"] for r in reports] == ["fail" if i % 5 == 0 else "pass" for i in range(20)]
    assert "16 passed, 0 warned, 4 failed" in err


def test_workers_end_when_the_check_url_process_is_killed(web, cli_env, tmp_path):
    site = _site(web, "127.0.0.2", gauge=_Gauge(), delay=1.0)
    listing = tmp_path / "urls.txt"
    listing.write_text("".join(site.url(f"/entry/{i}") + "\n" for i in range(20)))
    process = _registry("check-url", "--from", str(listing), env=cli_env)
    try:
        until = time.monotonic() + 20
        while len(workers := _worker_pids(process.pid)) < WORKERS:
            assert time.monotonic() < until and process.poll() is None, "no workers started"
            time.sleep(0.05)
        process.kill()
        process.wait()
        until = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < until:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in workers)
    finally:
        process.kill()
        process.communicate()


def test_workers_do_not_run_the_program_that_started_them_again(web, procs, tmp_path):
    site = _site(web, "127.0.0.2")
    urls = [site.url(f"/entry/{i}") for i in range(16)]
    marker = tmp_path / "imported"
    program = tmp_path / "program.py"
    program.write_text(
        textwrap.dedent(f"""\
            with open({str(marker)!r}, "a") as f:
                f.write(__name__ + "\\n")
            if __name__ == "__main__":
                import json, multiprocessing, sys
                import checks
                settings = checks.CheckSettings(
                    allow_networks="127.0.0.0/8", ca_bundle={procs.ca_bundle!r}, workers=2
                )
                with checks.CheckBatch(json.loads(sys.argv[1]), settings=settings) as batch:
                    got = {{}}
                    while not batch.done:
                        got.update(batch.wait())
                        workers = len(multiprocessing.active_children())
                print(json.dumps([got[i].verdict for i in range(len(got))]), workers)
        """)
    )
    out = subprocess.run(
        [sys.executable, str(program), json.dumps(urls)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    verdicts, workers = out.stdout.rsplit(" ", 1)
    assert json.loads(verdicts) == ["pass"] * 16
    assert int(workers) == 2
    assert marker.read_text() == "__main__\n"  # not again as __mp_main__ in each worker
