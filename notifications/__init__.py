"""In-app and e-mail notifications, their schedules and Celery tasks."""
