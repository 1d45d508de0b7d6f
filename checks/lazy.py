"""Build a thing once per process, however many threads ask for it at the same moment."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once(build: Callable[..., T]) -> Callable[..., T]:
    """Cache build's result per arguments, built by one thread while the others wait.

    functools.cache alone lets every thread that misses build its own copy: the 64 threads of a
    check run each loaded a hyphenation dictionary (some 2 MB and 70 ms apiece) that way.
    """
    cached = functools.cache(build)
    lock = threading.Lock()

    @functools.wraps(build)
    def get(*args):
        with lock:
            return cached(*args)

    get.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return get
