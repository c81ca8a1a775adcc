"""The design system's template helpers: one format for dates and deadlines, status badges, the case's
progress through its stages, and the role's navigation."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from certification.models.base import choice_label

register = template.Library()

# One format everywhere (README, "Design system"): a day as 2026-03-20, a moment as 2026-03-20 14:30 in the
# site's time zone (Asia/Shanghai), whatever the reader's language.
DAY_FORMAT = "Y-m-d"
MOMENT_FORMAT = "Y-m-d H:i"


@register.filter
def when(value, arg: str = ""):
    """A date or a datetime in the site's one format; ``|when:"day"`` shows a datetime's day only."""
    if value in (None, ""):
        return ""
    if isinstance(value, dt.datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
        return date_format(value, DAY_FORMAT if arg == "day" else MOMENT_FORMAT)
    if isinstance(value, dt.date):
        return date_format(value, DAY_FORMAT)
    return value


# The badge colour of each stage, outcome and certificate status (Bootstrap's text-bg-* classes).
_TONES = {
    "stage": {"closed": "secondary"},
    "outcome": {"open": "info", "certified": "success", "withdrawn": "secondary", "cancelled": "secondary"},
    "certificate": {"in_force": "success", "recheck_in_progress": "info", "suspended": "warning",
                    "lapsed": "secondary", "superseded": "secondary", "revoked": "danger"},
}
_DEFAULT_TONE = {"stage": "primary", "outcome": "danger", "certificate": "secondary"}


@register.inclusion_tag("includes/badge.html")
def badge(kind: str, value: str, label):
    """A status badge: ``{% badge "stage" case.stage case.get_stage_display %}``."""
    return {"tone": tone(value, kind), "label": label}


@register.filter
def display(obj, name: str):
    """``{{ case|display:"stage" }}``: what ``case.get_stage_display`` gives (see ``choice_label``)."""
    return choice_label(obj, name)


@register.filter
def tone(value, kind: str) -> str:
    """The badge tone of a status, for a list that writes its badges inline (``{{ case.stage|tone:"stage" }}``):
    the same tones as :func:`badge`, without rendering a template per row."""
    return _TONES.get(kind, {}).get(str(value), _DEFAULT_TONE.get(kind, "secondary"))


@register.inclusion_tag("includes/progress.html")
def stage_progress(case):
    """The case's stages as a row of steps: done, current, to come (or where the case ended)."""
    from certification.selectors import case_progress

    return {"steps": case_progress(case)}


@register.simple_tag(takes_context=True)
def navigation(context):
    """The links of the signed-in user's roles (see ``workflows.navigation``), read once per request."""
    from ..navigation import links_for

    request = context.get("request")
    if request is None:
        return []
    if not hasattr(request, "_navigation"):
        request._navigation = links_for(request.user)
    return request._navigation
