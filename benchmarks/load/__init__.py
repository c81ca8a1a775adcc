"""The load run over HTTP: a seeded throwaway PostgreSQL database, gunicorn and a Celery worker on loopback,
Locust users (experts scoring, clerks browsing, the certificate officer issuing a batch), then a check of what
the database holds against what the users posted. Start it with ``bash benchmarks/load/run.sh``."""
