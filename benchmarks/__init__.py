"""Benchmarks: ``python -m benchmarks NAME`` prints one JSON object, with ratios against a floor measured in
the same run, so that the numbers mean the same on a busy machine and an idle one."""

import statistics
import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], *, repeat: int = 7, number: int = 1) -> float:
    """The median of ``repeat`` timings of ``number`` calls, per call."""
    fn()  # warm caches and imports
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        timings.append((time.perf_counter() - start) / number)
    return statistics.median(timings)
