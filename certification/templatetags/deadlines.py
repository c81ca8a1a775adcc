"""The one display rule for deadlines on pages (``certification.rules.deadline_text``): a deadline stored as the
midnight that ends its last day reads as that day, "24:00"."""

from django import template

from certification import rules

register = template.Library()


@register.filter
def deadline(moment) -> str:
    """``{{ case.rectification_due_at|deadline }}`` → ``2026-12-15 24:00``."""
    return "" if moment is None else rules.deadline_text(moment)


@register.filter
def deadline_day(moment):
    """``{{ notice.closes_at|deadline_day|date:"Y-m-d" }}``: the last day the deadline leaves."""
    return None if moment is None else rules.deadline_last_day(moment)
