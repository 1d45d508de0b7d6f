"""One scheduler of work for the command line and the nightly job: many entries at once, politely.

Every target is split into units of work (its page check, and one per store link), each queued
by its own host, so that no more than ``max_per_host`` units of a host run at once and each
unit's deadline starts when it does. The units run in worker processes (checks/workers.py) or
in this process's threads; CheckBatch says when which.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from checks import net, workers
from checks.report import Report, Store
from checks.run import (
    PageCheck,
    Target,
    Unit,
    assemble,
    crashed_part,
    failed_report,
    run_unit,
    units_of,
)
from checks.settings import CheckSettings

# Fewer units than this run in threads: starting processes would cost more than they save.
PROCESSES_FROM = 16
# Finished reports left unread, per request slot, before the batch stops starting work.
UNREAD_PER_SLOT = 4


class _Queue:
    """Hand out units, no more than `total` at once and no more than `per_host` of one host.

    A unit's deadline starts when it is handed out: it must not use up its deadline waiting
    behind other units of the same host (App Store links, pages of one big site). Nothing is
    handed out while `window` finished reports wait to be read, so that a reader held up (the
    database away) does not make the batch keep every report of the run.
    """

    def __init__(self, units: list[Unit], *, total: int, per_host: int, window: int):
        self.total, self.per_host, self.window = total, per_host, window
        self.pending: dict[str, collections.deque[Unit]] = {}
        for unit in units:
            self.pending.setdefault(unit.host, collections.deque()).append(unit)
        self.running: collections.Counter[str] = collections.Counter()
        self.in_flight = 0
        self.unread = 0
        self.cond = threading.Condition()
        self.stopped = False

    def take(self) -> Unit | None:
        """Return the next unit that may start, waiting until one may; None when done."""
        with self.cond:
            while self.pending and not self.stopped:
                if self.in_flight < self.total and self.unread < self.window:
                    for host, queue in self.pending.items():
                        if self.running[host] < self.per_host:
                            unit = queue.popleft()
                            if not queue:
                                del self.pending[host]
                            self.running[host] += 1
                            self.in_flight += 1
                            return unit
                self.cond.wait()
            return None

    def done(self, unit: Unit) -> None:
        with self.cond:
            self.running[unit.host] -= 1
            if not self.running[unit.host]:
                del self.running[unit.host]
            self.in_flight -= 1
            self.cond.notify_all()

    def add_unread(self, n: int) -> None:
        """Count n reports more (or, negative, fewer) waiting to be read."""
        with self.cond:
            self.unread += n
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class Runner(Protocol):
    """Where a batch's units run: this process's threads, or worker processes."""

    def start(self, take: workers.Take, finish: workers.Finish) -> None:
        """Run units from take() until it gives None, calling finish(unit, result, crashed)."""

    def close(self, wait_for: float = 0.0) -> None:
        """Stop: once the units under way finish (for up to wait_for seconds), or at once."""


class ThreadRunner:
    """Run units in this process's threads, through one limiter."""

    def __init__(self, settings: CheckSettings, limiter: net.Limiter, *, threads: int):
        self.settings, self.limiter, self.count = settings, limiter, threads
        self.threads: list[threading.Thread] = []

    def start(self, take: workers.Take, finish: workers.Finish) -> None:
        for n in range(self.count):
            # Daemon threads: an interrupted run must not wait at exit for checks under way.
            thread = threading.Thread(
                target=self._work, args=(take, finish), name=f"check-{n}", daemon=True
            )
            self.threads.append(thread)
            thread.start()

    def close(self, wait_for: float = 0.0) -> None:
        until = time.monotonic() + wait_for
        for thread in self.threads:
            thread.join(max(until - time.monotonic(), 0))

    def _work(self, take: workers.Take, finish: workers.Finish) -> None:
        while (unit := take()) is not None:
            try:
                result, crashed = run_unit(unit, self.settings, self.limiter)
            except BaseException as exc:  # even then the target gets its report, not a hang
                finish(unit, crashed_part(unit, exc), True)
                raise
            finish(unit, result, crashed)


@dataclass
class _Parts:
    """What a target's finished units found so far, until its last one ends."""

    found: list
    left: int
    crashed: bool = False


class CheckBatch:
    """Check many targets, queued per host, over worker processes; hand out reports as they finish.

    Use it as a context manager; leaving the block (normally, by an exception or by
    KeyboardInterrupt) stops handing out work, and stops the worker processes::

        with CheckBatch(targets, settings=settings) as batch:
            while not batch.done:
                for index, report in batch.wait(timeout=30):  # [] when 30 s pass first
                    store(targets[index], report)
                refresh_lock()

    ``index`` is the target's position in ``targets``; plain URL strings are taken as
    ``Target(url)``. A unit that crashes, or whose worker process dies, gives its target a
    failing report, never none. While UNREAD_PER_SLOT × ``max_concurrency`` reports wait to be
    read, no more work starts.

    The units run in ``settings.processes`` worker processes, except in this process's threads
    when: there is to be one process; ``settings.resolver`` is set (a function of this
    process); a ``limiter`` is passed in (the caller's, shared with other work here); or there
    are fewer than PROCESSES_FROM units (starting processes would cost more than it saves).
    """

    def __init__(
        self,
        targets: Iterable[Target | str],
        *,
        settings: CheckSettings,
        limiter: net.Limiter | None = None,
    ):
        self.targets = [t if isinstance(t, Target) else Target(t) for t in targets]
        self.settings = settings
        units = [u for i, t in enumerate(self.targets) for u in units_of(i, t)]
        self._queue = _Queue(
            units,
            total=settings.max_concurrency,
            per_host=settings.max_per_host,
            window=UNREAD_PER_SLOT * settings.max_concurrency,
        )
        self._parts: dict[int, _Parts] = {}  # only targets some of whose units have finished
        self._finished: list[tuple[int, Report]] = []
        self._handed_out = 0
        self._started = self._closed = False
        self._cond = threading.Condition()
        self._runner = self._runner_for(len(units), limiter)

    def _runner_for(self, units: int, limiter: net.Limiter | None) -> Runner:
        s = self.settings
        in_threads = (
            s.processes == 1
            or s.resolver is not None  # a function of this process: it cannot be sent over
            or limiter is not None
            or units < PROCESSES_FROM
        )
        if in_threads:
            limiter = limiter or net.Limiter(s.max_concurrency, s.max_per_host)
            return ThreadRunner(s, limiter, threads=min(s.max_concurrency, units))
        return workers.ProcessRunner(s, processes=min(s.processes, s.max_concurrency, units))

    @property
    def total(self) -> int:
        """Return how many targets the batch checks."""
        return len(self.targets)

    @property
    def done(self) -> bool:
        """Tell whether every report has been handed out by wait(), or the batch was closed."""
        with self._cond:
            return self._closed or self._handed_out == self.total

    def start(self) -> CheckBatch:
        """Start the work (once; wait() and the with statement call it)."""
        with self._cond:
            if self._started or self._closed:
                return self
            self._started = True
            self._runner.start(self._queue.take, self._finish)
        return self

    def wait(self, timeout: float | None = None) -> list[tuple[int, Report]]:
        """Return the (index, report) pairs finished since the last call; [] on timeout."""
        self.start()
        with self._cond:
            self._cond.wait_for(
                lambda: self._finished or self._closed or self._handed_out == self.total,
                timeout,
            )
            out, self._finished = self._finished, []
            self._handed_out += len(out)
            self._queue.add_unread(-len(out))
            return out

    def close(self, *, wait: bool = False) -> None:
        """Stop handing out work; with wait, let the units under way finish first."""
        self._queue.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        # Bounded: a unit never outlives its deadline by much.
        self._runner.close(self.settings.deadline + 5 if wait else 0.0)

    def __enter__(self) -> CheckBatch:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)

    def _finish(self, unit: Unit, result: PageCheck | Store, crashed: bool) -> None:
        """Keep a unit's result; when it is the target's last, assemble the report."""
        i = unit.index
        with self._cond:
            target = self.targets[i]
            parts = self._parts.get(i)
            if parts is None:
                size = 1 + len(target.store_links())
                parts = self._parts[i] = _Parts([None] * size, size)
            parts.found[unit.part] = result
            parts.crashed = parts.crashed or crashed
            parts.left -= 1
            if not parts.left:
                del self._parts[i]  # the report holds what it needs
                try:
                    report = assemble(target, parts.found, parts.crashed, self.settings)
                except Exception as exc:
                    report = failed_report(target, exc, self.settings)
                self._finished.append((i, report))
                self._queue.add_unread(1)
                self._cond.notify_all()
            self._queue.done(unit)  # after the report is counted: the window is kept exactly


def iter_check_targets(
    targets: Iterable[Target | str],
    *,
    settings: CheckSettings,
    limiter: net.Limiter | None = None,
) -> Iterator[Report]:
    """Check targets concurrently; yield their reports in input order, each as soon as it can."""
    batch = CheckBatch(targets, settings=settings, limiter=limiter)
    if not batch.total:
        return
    with batch:
        ready: dict[int, Report] = {}
        for i in range(batch.total):
            while i not in ready:
                if batch.done:
                    raise RuntimeError(f"the check of {batch.targets[i].url} was lost")
                ready.update(batch.wait())
            yield ready.pop(i)


def iter_check_urls(urls: Iterable[str], *, settings: CheckSettings) -> Iterator[Report]:
    """Check URLs concurrently and yield their reports in input order, each as soon as it can."""
    return iter_check_targets([Target(url) for url in urls], settings=settings)


def check_urls(urls: Iterable[str], *, settings: CheckSettings) -> list[Report]:
    """Check many URLs concurrently; return their reports in input order."""
    return list(iter_check_urls(urls, settings=settings))
