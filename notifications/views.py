"""The inbox, e-mail preferences, and the chair's nudge. Each view reads only the signed-in user's own rows;
anything else answers 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from certification.exceptions import RuleViolation
from certification.selectors import member_for_chair_or_404
from certification.services.panels import panel_member_nudge

from .kinds import LEGAL_KINDS, Kind
from .models import Notification
from .selectors import inbox_for, unread_count
from .services import email_preferences, notification_mark_read, preferences_set


@login_required
def inbox(request):
    page = Paginator(inbox_for(request.user), 30).get_page(request.GET.get("page"))
    return render(request, "notifications/inbox.html", {"page": page, "unread": unread_count(request.user)})


@login_required
@require_POST
def mark_read(request, pk: int):
    """Mark one notification read; with ``open``, go on to its case."""
    notification = Notification.objects.filter(recipient=request.user, pk=pk).first()
    if notification is None:
        raise Http404
    notification_mark_read(actor=request.user, notification=notification)
    if request.POST.get("open") and notification.case_id:
        return redirect("case_detail", pk=notification.case_id)
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request):
    notification_mark_read(actor=request.user)
    return redirect("notifications:inbox")


@login_required
def preferences(request):
    current = email_preferences(request.user)
    if request.method == "POST":
        chosen = {kind: request.POST.get(kind) == "on" for kind in Kind.values if kind not in LEGAL_KINDS}
        try:
            preferences_set(actor=request.user, email_by_kind=chosen)
        except RuleViolation as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Your e-mail preferences are saved."))
            return redirect("notifications:preferences")
    rows = [(kind, label, current[kind], kind in LEGAL_KINDS) for kind, label in Kind.choices]
    return render(request, "notifications/preferences.html", {"rows": rows})


@login_required
@require_POST
def nudge(request, member_id: int):
    """The chair reminds one late member of the panel to submit their scores."""
    member = member_for_chair_or_404(request.user, member_id)
    try:
        panel_member_nudge(actor=request.user, member=member)
    except RuleViolation as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("%(member)s has been reminded.") % {"member": member.expert})
    target = request.POST.get("next") or reverse("case_detail", kwargs={"pk": member.panel.case_id})
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = reverse("case_detail", kwargs={"pk": member.panel.case_id})
    return HttpResponseRedirect(target)
