"""Development and the embedded first run: SQLite, console e-mail, DEBUG."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-key-not-for-production-use-0123456789")
# A fixed development key-encryption key (scripts/run.sh keeps its own in var/); never used in production.
SIGNING_KEY_ENCRYPTION_KEY = env("SIGNING_KEY_ENCRYPTION_KEY",
                                 default="bG9jYWwtZGV2ZWxvcG1lbnQtb25seS1ub3Qtc2VjcmU=")
