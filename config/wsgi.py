import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()

# What the application loaded at start-up lives as long as the worker: move it out of the cyclic collector's
# reach, so that a full collection walks only what requests made, not the ~170,000 objects of Django, the apps,
# the translations and the schemes (without this, the request that triggers one — every few hundred — pays
# 100 ms and more: the benchmark's p95). Nothing is cached; the objects are only no longer scanned.
gc.collect()
gc.freeze()
