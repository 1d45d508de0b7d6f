"""What a check run loads once per process is loaded once, however many threads start at once."""

import threading
import time

from checks import lazy, readability, trackers


def test_many_threads_asking_at_once_build_it_once():
    built = []

    @lazy.once
    def table(name):
        built.append(name)
        time.sleep(0.05)  # long enough for every thread to arrive while it is being built
        return {"name": name}

    start = threading.Barrier(32)
    got = []

    def ask():
        start.wait()
        got.append(table("trackers"))

    threads = [threading.Thread(target=ask) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert built == ["trackers"]
    assert all(g is got[0] for g in got)


def test_the_hyphenation_dictionary_and_the_tracker_list_are_each_loaded_once():
    readability._hyphenator.cache_clear()
    trackers._table.cache_clear()
    start = threading.Barrier(16)
    seen = []

    def ask():
        start.wait()
        seen.append((id(readability._hyphenator()), id(trackers._table())))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1
