"""The read replica, when there is one (``DATABASE_REPLICA_URL``): only reads that say so go to it.

Nothing is routed there implicitly: a replica lags the primary by a moment, and most pages read what the user
has just written. A read that may be a little behind — public verification of a certificate, the public
notices, dashboards and exports — asks for it with ``.using(read_replica())``; without a replica
``read_replica()`` is ``"default"``, so the same code runs on one database. Writes and migrations always go to
the primary.
"""

from django.conf import settings

REPLICA = "replica"


def read_replica() -> str:
    """The database alias for reads that may lag: the replica if one is configured, else the primary."""
    return REPLICA if REPLICA in settings.DATABASES else "default"


class ReplicaRouter:
    """Leaves reads where the query says (``default`` unless ``.using("replica")``), sends every write to the
    primary, and migrates only the primary (the replica is a copy of it)."""

    def db_for_read(self, model, **hints):
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True  # the same data on both

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
