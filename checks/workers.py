"""Worker processes for CheckBatch: the units of work spread over every core, politely.

This process still decides which unit may start (checks/schedule.py); ProcessRunner hands each
to the worker with the fewest under way, over a pipe of its own, and reads the results back
over another. A worker runs its units in threads through a SharedLimiter, which bounds the
requests in flight, overall and per host, across all the workers at once.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
import types
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing import connection
from multiprocessing.process import BaseProcess

from checks import net
from checks.report import Store
from checks.run import PageCheck, Unit, crashed_part, run_unit
from checks.settings import CheckSettings

# Never fork: the nightly job's process has threads and database connections.
_SPAWN = multiprocessing.get_context("spawn")
_READY = "ready"  # a worker's first message: it has started and can take units

Take = Callable[[], Unit | None]
Finish = Callable[[Unit, PageCheck | Store, bool], None]


class SharedLimiter:
    """Bound the requests in flight, overall and per host, across processes (as net.Limiter).

    The counts live in shared memory under one lock: the total, and one count per bucket of
    hosts (a stable hash of the name; two hosts in one bucket are only held the stricter).
    Each worker also counts what it holds in a row of its own, so that the slots of a worker
    that dies can be given back (release_row). Waiting is by short sleeps, only when full.
    """

    BUCKETS = 4093

    def __init__(self, total: int, per_host: int, *, rows: int = 1):
        self.total, self.per_host = total, per_host
        self._width = 1 + self.BUCKETS  # [0]: requests in flight; [b]: in flight to bucket b
        self._lock = _SPAWN.Lock()
        # Row 0 counts for everyone; row 1 + r for the worker keeping row r.
        self._counts = _SPAWN.Array("i", self._width * (1 + rows), lock=False)
        self._mine: int | None = None

    def keep_row(self, row: int) -> None:
        """Count this process's slots in row `row` too (a worker calls it once, at start)."""
        self._mine = self._width * (1 + row)

    @contextlib.contextmanager
    def slot(self, host: str, deadline: net.Deadline) -> Iterator[None]:
        """Hold a request slot for host; raise net.DeadlineExceeded if none frees in time."""
        bucket = 1 + zlib.crc32(host.encode("utf-8", "replace")) % self.BUCKETS
        pause = 0.001
        while (full := self._acquire(bucket, deadline)) is not None:
            left = deadline.remaining()
            if left <= 0:
                raise net.DeadlineExceeded(f"deadline passed waiting for a free {full}")
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.02)
        try:
            yield
        finally:
            self._release(bucket)

    def release_row(self, row: int) -> None:
        """Give back every slot a worker held (call once the worker is dead)."""
        # A worker killed while it held the lock left it held: after a while, take it over.
        self._lock.acquire(timeout=2.0)
        try:
            counts, mine = self._counts, self._width * (1 + row)
            for i in range(self._width):
                if counts[mine + i]:
                    counts[i] = max(counts[i] - counts[mine + i], 0)
                    counts[mine + i] = 0
        finally:
            with contextlib.suppress(ValueError):  # it was not held after all
                self._lock.release()

    def _acquire(self, bucket: int, deadline: net.Deadline) -> str | None:
        """Take a slot if both counts allow; otherwise say which was full."""
        if not self._lock.acquire(timeout=max(deadline.remaining(), 0)):
            return "request slot (the limiter is held)"
        try:
            if self._counts[bucket] >= self.per_host:
                return "slot for the host"
            if self._counts[0] >= self.total:
                return "request slot"
            self._count(bucket, 1)
            return None
        finally:
            self._lock.release()

    def _release(self, bucket: int) -> None:
        with self._lock:
            self._count(bucket, -1)

    def _count(self, bucket: int, n: int) -> None:
        """Add n to the counts of a bucket (call with the lock held)."""
        counts = self._counts
        counts[0] += n
        counts[bucket] += n
        if self._mine is not None:
            counts[self._mine] += n
            counts[self._mine + bucket] += n


class WorkerDied(Exception):
    """The worker process running a unit ended before the unit did."""


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    tasks: connection.Connection  # this end: units to run
    results: connection.Connection  # this end: what they found
    row: int  # its row in the limiter, kept by whoever replaces it
    ready: bool = False
    under_way: dict[tuple[int, int], Unit] = field(default_factory=dict)


class ProcessRunner:
    """Run units in worker processes, each taken from the batch's queue when it may start.

    Two threads here: one hands out units as the queue lets them go, one reads the results
    and notices a worker that dies (its units under way then fail, saying so, and a worker
    takes its place).
    """

    def __init__(self, settings: CheckSettings, *, processes: int):
        self.settings = settings
        self.processes = processes
        self.threads = math.ceil(settings.max_concurrency / processes)
        self.limiter: SharedLimiter | None = None  # made at start: it starts a helper process
        self._pool: list[_Worker] = []
        self._ended: list[_Worker] = []  # workers that died, replaced
        self._cond = threading.Condition()
        self._stopping = False
        self._dispatcher: threading.Thread | None = None
        self._collector: threading.Thread | None = None

    def start(self, take: Take, finish: Finish) -> None:
        """Start the workers, and the threads that feed them and read what they find."""
        self._take, self._finish = take, finish
        s = self.settings
        self.limiter = SharedLimiter(s.max_concurrency, s.max_per_host, rows=self.processes)
        try:
            with self._cond:
                for row in range(self.processes):
                    self._pool.append(self._spawn(row))
        except BaseException:
            self.close()
            raise
        # Daemon threads: an interrupted run must not wait at exit for them.
        self._dispatcher = threading.Thread(target=self._dispatch, name="check-hand", daemon=True)
        self._collector = threading.Thread(target=self._collect, name="check-read", daemon=True)
        self._dispatcher.start()
        self._collector.start()

    def close(self, wait_for: float = 0.0) -> None:
        """Stop the workers: once the units under way finish (up to wait_for s), or at once."""
        until = time.monotonic() + wait_for
        if self._dispatcher is not None:
            self._dispatcher.join(max(until - time.monotonic(), 0))
        with self._cond:
            self._cond.wait_for(
                lambda: not any(w.under_way for w in self._pool),
                max(until - time.monotonic(), 0),
            )
            self._stopping = True
            pool, self._pool = self._pool, []
        for worker in pool:
            with contextlib.suppress(OSError):
                worker.tasks.send(None)  # stop now, abandoning any unit under way
        ends = time.monotonic() + 1.0
        for worker in pool:
            worker.process.join(max(ends - time.monotonic(), 0))
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        if self._collector is not None:
            self._collector.join()
        with self._cond:
            ended, self._ended = self._ended, []
        for worker in pool + ended:
            worker.tasks.close()
            worker.results.close()
            worker.process.close()

    def _spawn(self, row: int) -> _Worker:
        """Start a worker process keeping limiter row `row` (call with self._cond held)."""
        assert self.limiter is not None
        tasks_out, tasks_in = _SPAWN.Pipe(duplex=False)
        results_out, results_in = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(
            target=serve,
            args=(tasks_out, results_in, self.settings, self.limiter, row, self.threads),
            name=f"check-worker-{row}",
            daemon=True,
        )
        with _bare_main():
            process.start()
        # The worker's ends, closed here so that its death reads as the end of its pipe.
        tasks_out.close()
        results_in.close()
        return _Worker(process, tasks_in, results_out, row)

    def _dispatch(self) -> None:
        while (unit := self._take()) is not None:
            with self._cond:
                worker = min(self._pool, key=lambda w: len(w.under_way), default=None)
                if worker is not None:
                    worker.under_way[(unit.index, unit.part)] = unit
            if worker is None:
                gone = WorkerDied("no worker process is left to run it")
                self._finish(unit, crashed_part(unit, gone), True)
                continue
            try:
                worker.tasks.send(unit)
            except OSError:
                pass  # the worker is gone: the unit is settled with its others (_lost)

    def _collect(self) -> None:
        while True:
            with self._cond:
                if self._stopping:
                    return
                waiting: dict[object, tuple[_Worker, bool]] = {}
                for worker in self._pool:
                    waiting[worker.results] = (worker, False)
                    waiting[worker.process.sentinel] = (worker, True)  # ready: it ended
            for ready in connection.wait(list(waiting), timeout=0.25):
                worker, ended = waiting[ready]
                self._receive(worker)
                if ended:
                    self._lost(worker)

    def _receive(self, worker: _Worker) -> None:
        """Take in every result a worker has sent."""
        try:
            while worker in self._pool and worker.results.poll():
                message = worker.results.recv()
                if message == _READY:
                    worker.ready = True
                    continue
                index, part, result, crashed = message
                with self._cond:
                    unit = worker.under_way.pop((index, part), None)
                    self._cond.notify_all()
                if unit is not None:
                    self._finish(unit, result, crashed)
        except (EOFError, OSError):
            self._lost(worker)

    def _lost(self, worker: _Worker) -> None:
        """Settle the units of a worker that ended, and start another in its place."""
        with self._cond:
            if self._stopping or worker not in self._pool:
                return
            self._pool.remove(worker)
            units = list(worker.under_way.values())
            worker.under_way.clear()
        worker.process.join(1.0)
        if worker.process.is_alive():  # it closed its pipe, yet lives: make sure
            worker.process.kill()
            worker.process.join()
        # Only once it is dead: until then it may still count slots in its row.
        assert self.limiter is not None
        self.limiter.release_row(worker.row)
        why = WorkerDied(f"its worker process {_how_it_ended(worker.process.exitcode)}")
        for unit in units:
            self._finish(unit, crashed_part(unit, why), True)
        with self._cond:
            self._ended.append(worker)  # its pipes are closed by close(), not under a send
            # A worker that died before it was ready would die again: go on with the others.
            if worker.ready and not self._stopping:
                with contextlib.suppress(OSError):  # no more processes: go on with the others
                    self._pool.append(self._spawn(worker.row))
            self._cond.notify_all()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"ended (exit status {exitcode})"


_main_lock = threading.Lock()


@contextlib.contextmanager
def _bare_main() -> Iterator[None]:
    """Start a spawned process without running this program's __main__ again in it.

    By default spawn runs the parent's main module again in the child (as __mp_main__): for
    `registry`, that is its command line, Flask and the database layer. A worker needs checks.
    """
    with _main_lock:
        main = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = main


def serve(
    tasks: connection.Connection,
    results: connection.Connection,
    settings: CheckSettings,
    limiter: SharedLimiter,
    row: int,
    threads: int,
) -> None:
    """Run the units sent over tasks in threads; send back each result; end with the parent."""
    # Ctrl-C reaches the whole process group; the parent handles it, and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limiter.keep_row(row)
    todo: queue.SimpleQueue[Unit] = queue.SimpleQueue()
    sending = threading.Lock()

    def send(message: object) -> None:
        with sending:
            results.send(message)

    def work() -> None:
        while True:
            unit = todo.get()
            try:
                result, crashed = run_unit(unit, settings, limiter)
            except BaseException as exc:  # even then the unit gets its result, not a hang
                result, crashed = crashed_part(unit, exc), True
            try:
                send((unit.index, unit.part, result, crashed))
            except OSError:
                os._exit(0)  # the parent is gone
            except Exception as exc:  # a result that cannot be pickled: say so in its place
                send((unit.index, unit.part, crashed_part(unit, exc), True))

    for n in range(threads):
        threading.Thread(target=work, name=f"check-{n}", daemon=True).start()
    send(_READY)
    parent = multiprocessing.parent_process()
    watch = [tasks] if parent is None else [tasks, parent.sentinel]
    while True:
        ready = connection.wait(watch)
        if parent is not None and parent.sentinel in ready:
            break  # the parent died
        try:
            unit = tasks.recv()
        except (EOFError, OSError):
            break  # the parent died, or closed the batch
        if unit is None:
            break
        todo.put(unit)
    # Any unit under way is abandoned: the parent asked to stop, or is gone.
    os._exit(0)
