"""Benchmarks: ``python -m benchmarks NAME`` prints one JSON object, with ratios against a floor measured in
the same run, so that the numbers mean the same on a busy machine and an idle one."""

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Where the database benchmarks run when the configured database is not PostgreSQL (``BENCH_DATABASE_URL``
#: overrides it, whatever the configured engine).
DEFAULT_BENCH_DATABASE_URL = "postgres://certification:certification@127.0.0.1:5432/certification"


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


class QueryCount:
    """The number of statements sent to the database so far (``executemany`` counts once)."""

    def __init__(self) -> None:
        self.count = 0

    def __int__(self) -> int:
        return self.count

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def count_queries(connection=None) -> Iterator[QueryCount]:
    """Count every statement run on ``connection`` (the default one) inside the block.

    A wrapper on the connection's ``execute``/``executemany``, not Django's query log
    (``CaptureQueriesContext``), which keeps only the last 9,000 queries and so reads 0 after a large seed.
    """
    if connection is None:
        from django.db import connection
    counter = QueryCount()
    with connection.execute_wrapper(counter):
        yield counter


def use_postgresql() -> str:
    """Point the default database at PostgreSQL, for a benchmark that creates its own database there.

    ``BENCH_DATABASE_URL`` wins if set; otherwise a configured PostgreSQL database is kept, and any other
    engine (SQLite) is replaced by :data:`DEFAULT_BENCH_DATABASE_URL`. Call it before the first query.
    Returns the engine's vendor name.
    """
    import environ
    from django.conf import settings
    from django.db import connections

    url = os.environ.get("BENCH_DATABASE_URL")
    if url is None and settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        url = DEFAULT_BENCH_DATABASE_URL
    if url is not None:
        connections.close_all()
        config = environ.Env.db_url_config(url)
        config["ATOMIC_REQUESTS"] = False
        settings.DATABASES["default"] = config
        connections._settings = None  # the handler reads settings.DATABASES again
        connections.__dict__.pop("settings", None)
        if hasattr(connections._connections, "default"):
            del connections["default"]
    return connections["default"].vendor
