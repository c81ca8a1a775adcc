"""Labels that libraries show in our admin but leave untranslated in Simplified Chinese.

Listed here so that ``makemessages`` keeps them in the project's catalogue, which takes precedence.
"""

from django.utils.translation import gettext_noop

MESSAGES = (
    gettext_noop("Workflow"),
    gettext_noop("Process"),
    gettext_noop("Process list"),
    gettext_noop("Task"),
    gettext_noop("Tasks"),
)
