"""The kinds of notification: what each says, and whether its e-mail can be turned off.

A notification stores its kind and plain parameters; its text is written here, as English msgids, and
rendered in the reader's language when shown or mailed. Kinds that carry a legal deadline or its
consequence are ``legal``: their e-mail is always sent, whatever the recipient's preferences.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Kind(models.TextChoices):
    CASE_DECLARED = "case_declared", _("New declaration")
    LATE_INCLUDED = "late_included", _("Late declaration included in the plan")
    LATE_REQUESTED = "late_requested", _("Asked to include a late declaration")
    LATE_REFUSED = "late_refused", _("Late declaration not included")
    CASE_FORWARDED = "case_forwarded", _("Declaration forwarded")
    PLAN_INCLUDED = "plan_included", _("Included in the plan")
    PLAN_RETURNED = "plan_returned", _("Not included in the plan")
    ACCEPTANCE_REQUESTED = "acceptance_requested", _("Acceptance requested")
    PRECHECK_ASSIGNED = "precheck_assigned", _("Pre-check assigned to you")
    PRECHECK_PASSED = "precheck_passed", _("Pre-check passed")
    RECTIFICATION_REQUIRED = "rectification_required", _("Rectification required")
    RECTIFICATION_REMINDER = "rectification_reminder", _("Rectification deadline approaching")
    RECTIFICATION_MISSED = "rectification_missed", _("Withdrawn: rectification deadline missed")
    NOTICE_PUBLISHED = "notice_published", _("Public notice published")
    NOTICE_PASSED = "notice_passed", _("Public notice closed")
    OBJECTION_FILED = "objection_filed", _("Objection received")
    OBJECTION_RESOLVED = "objection_resolved", _("Objection resolved")
    PANEL_FORMED = "panel_formed", _("Review panel formed")
    PANEL_APPOINTED = "panel_appointed", _("Appointed to a review panel")
    SCORING_REMINDER = "scoring_reminder", _("Scoring deadline approaching")
    SCORING_NUDGE = "scoring_nudge", _("The chair asks for your scores")
    SCORING_OVERDUE = "scoring_overdue", _("Scoring deadline passed")
    SHEET_REOPENED = "sheet_reopened", _("Score sheet reopened")
    REVIEW_CONCLUDED = "review_concluded", _("Review concluded")
    APPROVED = "approved", _("Approved")
    APPROVAL_REFUSED = "approval_refused", _("Approval refused")
    CERTIFIED = "certified", _("Certificate issued")
    CASE_WITHDRAWN = "case_withdrawn", _("Declaration withdrawn")
    CASE_CANCELLED = "case_cancelled", _("Case cancelled")
    RECHECK_REMINDER = "recheck_reminder", _("Recheck reminder")
    CERTIFICATE_LAPSED = "certificate_lapsed", _("Certificate lapsed")
    RECHECK_ENDED = "recheck_ended", _("Recheck ended without a new certificate")
    SUMMARY_REMINDER = "summary_reminder", _("Annual summary reminder")
    SUMMARY_OVERDUE = "summary_overdue", _("Annual summary overdue")
    SUMMARY_RECEIVED = "summary_received", _("Annual summary received")
    SUMMARY_CORRECTED = "summary_corrected", _("Corrected annual summary received")
    CERTIFICATE_SUSPENDED = "certificate_suspended", _("Certificate suspended")
    CERTIFICATE_REINSTATED = "certificate_reinstated", _("Certificate reinstated")
    CERTIFICATE_REVOKED = "certificate_revoked", _("Certificate revoked")
    CASE_FILED = "case_filed", _("Recheck filed with your bureau")
    ORDER_ISSUED = "order_issued", _("Rectification ordered after a spot check")
    ORDER_REMINDER = "order_reminder", _("Rectification order deadline approaching")
    ORDER_ANSWERED = "order_answered", _("Rectification order answered")
    ORDER_DECIDED = "order_decided", _("Decision on the rectification")
    ORDER_OVERDUE = "order_overdue", _("Rectification order deadline passed")
    AUTHORITY_SUSPENDED = "authority_suspended", _("Assessment authority suspended")
    AUTHORITY_REINSTATED = "authority_reinstated", _("Assessment authority reinstated")


@dataclass(frozen=True)
class Text:
    body: str  # a lazy msgid with %(name)s parameters
    legal: bool = False  # a legal deadline or its consequence: the e-mail cannot be turned off


TEXTS: dict[str, Text] = {
    Kind.LATE_INCLUDED: Text(_("%(bureau)s has included a late declaration of %(institution)s in its plan, "
                               "because: %(reason)s. Declare by %(due)s."), legal=True),
    Kind.LATE_REQUESTED: Text(_("%(institution)s asks %(bureau)s to include its late declaration for %(grade)s "
                                "in this year's plan, because: %(reason)s.")),
    Kind.LATE_REFUSED: Text(_("%(bureau)s did not include the late declaration of %(institution)s in its plan, "
                              "because: %(reason)s."), legal=True),
    Kind.CASE_DECLARED: Text(_("%(institution)s declared for %(grade)s (case %(reference)s).")),
    Kind.CASE_FORWARDED: Text(_("The city bureau forwarded case %(reference)s of %(institution)s.")),
    Kind.PLAN_INCLUDED: Text(_("Case %(reference)s is in this year's assessment plan: do the self-check and "
                               "submit the acceptance request.")),
    Kind.PLAN_RETURNED: Text(_("Case %(reference)s was not included in the plan: %(reason)s"), legal=True),
    Kind.ACCEPTANCE_REQUESTED: Text(_("%(institution)s submitted the acceptance request of case %(reference)s.")),
    Kind.PRECHECK_ASSIGNED: Text(_("You are designated to pre-check case %(reference)s of %(institution)s.")),
    Kind.PRECHECK_PASSED: Text(_("Case %(reference)s passed the pre-check and goes to the public notice.")),
    Kind.RECTIFICATION_REQUIRED: Text(_("Case %(reference)s was returned for rectification: %(reason)s "
                                        "Resubmit by %(due)s, or the declaration is withdrawn."), legal=True),
    Kind.RECTIFICATION_REMINDER: Text(_("Case %(reference)s: the rectification deadline is %(due)s. Resubmit "
                                        "before it, or the declaration is withdrawn."), legal=True),
    Kind.RECTIFICATION_MISSED: Text(_("Case %(reference)s was withdrawn: %(reason)s"), legal=True),
    Kind.NOTICE_PUBLISHED: Text(_("Case %(reference)s is on the public notice “%(title)s” until "
                                  "%(due)s; objections are received until then.")),
    # True whether no objection was received or every one was resolved (the case's timeline tells which).
    Kind.NOTICE_PASSED: Text(_("The public notice of case %(reference)s is over and no objection is pending; the "
                               "review panel is formed next.")),
    Kind.OBJECTION_FILED: Text(_("An objection (receipt %(receipt)s) was received against case %(reference)s. "
                                 "The bureau verifies it; the case waits until it is resolved."), legal=True),
    Kind.OBJECTION_RESOLVED: Text(_("The objection %(receipt)s to case %(reference)s was resolved: "
                                    "%(decision)s. %(reason)s"), legal=True),
    Kind.PANEL_FORMED: Text(_("The review panel of case %(reference)s is formed; scoring ends %(due)s.")),
    Kind.PANEL_APPOINTED: Text(_("You sit on the review panel of case %(reference)s of %(institution)s. "
                                 "Submit your scores by %(due)s.")),
    Kind.SCORING_REMINDER: Text(_("Case %(reference)s: your scores are due by %(due)s and are not submitted "
                                  "yet."), legal=True),
    Kind.SCORING_NUDGE: Text(_("The chair of the panel of case %(reference)s asks you to submit your scores "
                               "(due %(due)s).")),
    Kind.SCORING_OVERDUE: Text(_("Case %(reference)s: the scoring deadline %(due)s passed; not submitted: "
                                 "%(members)s."), legal=True),
    Kind.SHEET_REOPENED: Text(_("The chair reopened your score sheet of case %(reference)s: %(reason)s")),
    Kind.REVIEW_CONCLUDED: Text(_("The panel concluded its review of case %(reference)s.")),
    Kind.APPROVED: Text(_("Case %(reference)s was approved; the province issues the certificate.")),
    Kind.APPROVAL_REFUSED: Text(_("Approval of case %(reference)s was refused: %(reason)s"), legal=True),
    Kind.CERTIFIED: Text(_("Certificate %(number)s was issued for case %(reference)s.")),
    Kind.CASE_WITHDRAWN: Text(_("%(institution)s withdrew case %(reference)s: %(reason)s")),
    Kind.CASE_CANCELLED: Text(_("The bureau cancelled case %(reference)s: %(reason)s"), legal=True),
    Kind.RECHECK_REMINDER: Text(_("Certificate %(number)s (%(grade)s) is valid until %(due)s. Declare the "
                                  "recheck by then, or the grade lapses the day after."), legal=True),
    Kind.CERTIFICATE_LAPSED: Text(_("Certificate %(number)s of %(institution)s lapsed: %(reason)s"), legal=True),
    Kind.RECHECK_ENDED: Text(_("Certificate %(number)s of %(institution)s is in force again until %(due)s: "
                               "%(reason)s"), legal=True),
    Kind.SUMMARY_REMINDER: Text(_("Send the province this year's approvals summary of %(scheme)s by %(due)s.")),
    Kind.SUMMARY_OVERDUE: Text(_("%(bureau)s has not sent its %(year)s approvals summary of %(scheme)s, due "
                                 "%(due)s."), legal=True),
    Kind.SUMMARY_RECEIVED: Text(_("%(bureau)s sent its %(year)s approvals summary of %(scheme)s (%(approvals)s "
                                  "approvals).")),
    Kind.SUMMARY_CORRECTED: Text(_("%(bureau)s sent a corrected %(year)s approvals summary of %(scheme)s "
                                   "(%(approvals)s approvals): %(reason)s")),
    Kind.CERTIFICATE_SUSPENDED: Text(_("Certificate %(number)s (%(grade)s) of %(institution)s was suspended by "
                                       "%(bureau)s: %(reason)s"), legal=True),
    Kind.CERTIFICATE_REINSTATED: Text(_("Certificate %(number)s (%(grade)s) of %(institution)s was reinstated by "
                                        "%(bureau)s and is in force again: %(reason)s"), legal=True),
    Kind.CERTIFICATE_REVOKED: Text(_("Certificate %(number)s (%(grade)s) of %(institution)s was revoked by "
                                     "%(bureau)s: %(reason)s"), legal=True),
    Kind.CASE_FILED: Text(_("The recheck of %(institution)s for %(grade)s (case %(reference)s), approved by "
                            "%(bureau)s, is filed with your bureau with its %(documents)s approval documents.")),
    Kind.ORDER_ISSUED: Text(_("%(checking)s spot-checked the assessments of %(bureau)s and orders rectification "
                              "by %(due)s: %(reason)s"), legal=True),
    Kind.ORDER_REMINDER: Text(_("The rectification ordered by %(checking)s is due by %(due)s and not answered "
                                "yet; unanswered, the bureau's authority may be suspended."), legal=True),
    Kind.ORDER_ANSWERED: Text(_("%(bureau)s answered the rectification order with its measures: %(reason)s")),
    Kind.ORDER_DECIDED: Text(_("%(checking)s decided on the rectification of %(bureau)s: %(decision)s. "
                               "%(reason)s"), legal=True),
    Kind.ORDER_OVERDUE: Text(_("The rectification order of %(checking)s to %(bureau)s passed its deadline "
                               "%(due)s without an answer."), legal=True),
    Kind.AUTHORITY_SUSPENDED: Text(_("The assessment authority of %(bureau)s is suspended by %(checking)s: "
                                     "%(reason)s Its running cases pass to %(holder)s."), legal=True),
    Kind.AUTHORITY_REINSTATED: Text(_("The assessment authority of %(bureau)s is reinstated by %(checking)s: "
                                      "%(reason)s"), legal=True),
}

LEGAL_KINDS = frozenset(kind for kind, text in TEXTS.items() if text.legal)


def render_text(kind: str, params: dict) -> str:
    """The notification's text in the active language; a missing parameter shows empty, never fails."""
    text = TEXTS.get(kind)
    if text is None:
        return str(kind)
    body, params = str(text.body), _Params(params or {})
    for name, value in params.items():
        # A reason ending in its own full stop, placed before the text's ("…计划。。请于"): the text's is kept.
        after = body.partition(f"%({name})s")[2][:1]
        if isinstance(value, str) and after and after in SENTENCE_ENDS:
            params[name] = value.rstrip().rstrip(SENTENCE_ENDS)
    return body % params


SENTENCE_ENDS = "。.！!；;，,"


class _Params(dict):
    def __missing__(self, key):
        return ""
