"""One scheduler of work for the command line and the nightly job: many entries at once, politely.

Every target is split into units of work (its page check, and one per store link), each queued
by its own host, so that no more than ``max_per_host`` units of a host run at once and each
unit's deadline starts when it does.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Iterable, Iterator

from checks import net
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


class _Queue:
    """Hand out units so that no more than per_host units of one host run at once.

    A unit's deadline starts when it is handed out: it must not use up its deadline waiting
    behind other units of the same host (App Store links, pages of one big site).
    """

    def __init__(self, units: list[Unit], per_host: int):
        self.per_host = per_host
        self.pending: dict[str, collections.deque[Unit]] = {}
        for unit in units:
            self.pending.setdefault(unit.host, collections.deque()).append(unit)
        self.running: collections.Counter[str] = collections.Counter()
        self.cond = threading.Condition()
        self.stopped = False

    def take(self) -> Unit | None:
        """Return the next unit whose host has a free slot, waiting for one; None when done."""
        with self.cond:
            while self.pending and not self.stopped:
                for host, queue in self.pending.items():
                    if self.running[host] < self.per_host:
                        unit = queue.popleft()
                        if not queue:
                            del self.pending[host]
                        self.running[host] += 1
                        return unit
                self.cond.wait()
            return None

    def done(self, unit: Unit) -> None:
        with self.cond:
            self.running[unit.host] -= 1
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()


class CheckBatch:
    """Check many targets in worker threads, queued per host; hand out reports as they finish.

    Use it as a context manager; leaving the block (normally, by an exception or by
    KeyboardInterrupt) stops handing out work::

        with CheckBatch(targets, settings=settings) as batch:
            while not batch.done:
                for index, report in batch.wait(timeout=30):  # [] when 30 s pass first
                    store(targets[index], report)
                refresh_lock()

    ``index`` is the target's position in ``targets``; plain URL strings are taken as
    ``Target(url)``. A unit that crashes gives its target a failing report, never none.
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
        self._limiter = limiter or net.Limiter(settings.max_concurrency, settings.max_per_host)
        units = [u for i, t in enumerate(self.targets) for u in units_of(i, t)]
        self._queue = _Queue(units, settings.max_per_host)
        self._parts: list[list] = [[None] * (1 + len(t.store_links())) for t in self.targets]
        self._left = [len(parts) for parts in self._parts]
        self._crashed = [False] * len(self.targets)
        self._finished: list[tuple[int, Report]] = []
        self._handed_out = 0
        self._closed = False
        self._cond = threading.Condition()
        self._workers = min(settings.max_concurrency, len(units))
        self._threads: list[threading.Thread] = []

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
        """Start the worker threads (once; wait() and the with statement call it)."""
        with self._cond:
            if self._threads or self._closed:
                return self
            for n in range(self._workers):
                # Daemon threads: an interrupted run must not wait at exit for checks under way.
                thread = threading.Thread(target=self._work, name=f"check-{n}", daemon=True)
                self._threads.append(thread)
                thread.start()
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
            return out

    def close(self, *, wait: bool = False) -> None:
        """Stop handing out work; with wait, let the units under way finish first."""
        self._queue.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if wait:
            # Bounded: a unit never outlives its deadline by much.
            until = time.monotonic() + self.settings.deadline + 5
            for thread in self._threads:
                thread.join(max(until - time.monotonic(), 0))

    def __enter__(self) -> CheckBatch:
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(wait=exc_type is None)

    def _work(self) -> None:
        while (unit := self._queue.take()) is not None:
            try:
                result, crashed = run_unit(unit, self.settings, self._limiter)
            except BaseException as exc:  # even then the target gets its report, not a hang
                self._record(unit, crashed_part(unit, exc), True)
                raise
            finally:
                self._queue.done(unit)
            self._record(unit, result, crashed)

    def _record(self, unit: Unit, result: PageCheck | Store, crashed: bool) -> None:
        """Keep a unit's result; when it is the target's last, assemble the report."""
        i = unit.index
        with self._cond:
            self._parts[i][unit.part] = result
            self._crashed[i] = self._crashed[i] or crashed
            self._left[i] -= 1
            if self._left[i]:
                return
            target = self.targets[i]
            try:
                report = assemble(target, self._parts[i], self._crashed[i], self.settings)
            except Exception as exc:
                report = failed_report(target, exc, self.settings)
            self._parts[i] = []  # the report holds what it needs
            self._finished.append((i, report))
            self._cond.notify_all()


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
