"""Certificates: issue (numbered, gapless per year), supersede, recheck, suspend, reinstate, revoke, lapse.

Every change goes through :class:`~certification.lifecycle.CertificateLifecycle` and is written to the audit
log in the same transaction. A refused change raises :class:`RuleViolation` and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from viewflow.fsm import TransitionNotAllowed

from .. import rules
from ..enums import CERTIFICATE_STATUSES_CURRENT, CertificateStatus, Kind
from ..exceptions import Refusal, RuleViolation
from ..lifecycle import CertificateLifecycle, lapse_sources
from ..models import Bureau, Certificate, CertificateSerial, Grade, Institution, RegisterBatch, SchemeVersion
from ..permissions import ISSUE_FOR_BUREAU, require
from .audit import audit_record, audit_record_many
from .documents import certificate_document_freeze_within
from .signing import certificate_credential_issue


def lapse_reason() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("The grade lapsed automatically: no recheck was declared by the expiry date.")


def _snapshot(certificate: Certificate) -> dict:
    return {"status": certificate.status, "valid_until": certificate.valid_until,
            "status_reason": certificate.status_reason}


def certificate_next_serial(scheme_id: int, year: int) -> int:
    """The next serial of the scheme's series in ``year``, taken under a row lock: unique and gapless under
    concurrent issuing."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a serial is taken inside the transaction that issues the certificate")
    try:
        with transaction.atomic():
            CertificateSerial.objects.get_or_create(scheme_id=scheme_id, year=year)
    except IntegrityError:  # another transaction created the row first
        pass
    counter = CertificateSerial.objects.select_for_update().get(scheme_id=scheme_id, year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


@transaction.atomic(durable=True)
def certificate_issue(*, actor, institution: Institution, grade: Grade, kind: str, approved_by: Bureau,
                      issued_on: dt.date | None = None) -> Certificate:
    """Issue a certificate; the province issues it, whichever bureau approved.

    A promotion supersedes the holder's current certificate under the scheme; a recheck needs a recheck in
    progress for the same grade and supersedes it, renewing validity for three years from the issue date.
    """
    certificate = issue_within(actor=actor, institution=institution, grade=grade, kind=kind,
                               approved_by=approved_by, issued_on=issued_on)
    certificate_document_freeze_within(actor=actor, certificate=certificate)
    return certificate


def issue_within(*, actor, institution: Institution, grade: Grade, kind: str, approved_by: Bureau,
                 issued_on: dt.date | None = None) -> Certificate:
    """:func:`certificate_issue` inside the caller's transaction (issuing a case's certificate)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("issue_within runs inside the caller's transaction")
    version: SchemeVersion = grade.version
    spec = version.specification()
    issued_on = issued_on or rules.local_date(timezone.now(), scheme=spec)
    current = (
        Certificate.objects.select_for_update()
        .filter(institution=institution, scheme=version.scheme_id, status__in=CERTIFICATE_STATUSES_CURRENT)
        .first()
    )
    if kind == Kind.RECHECK and (
        current is None or current.status != CertificateStatus.RECHECK_IN_PROGRESS or current.grade.code != grade.code
    ):
        raise RuleViolation(Refusal(
            code="certificate.recheck_without_declaration",
            rule=_("Recheck (article 11)"),
            message=_("A recheck certificate renews a certificate whose recheck is in progress, of the same grade."),
            satisfy=_("Declare the recheck first."),
        ))
    if current is not None and current.status == CertificateStatus.SUSPENDED:
        raise RuleViolation(Refusal(
            code="certificate.holder_suspended",
            rule=_("Certificate status"),
            message=_("The holder's certificate %(number)s is suspended.") % {"number": current.number},
            satisfy=_("Reinstate or revoke it first."),
        ))
    serial = certificate_next_serial(version.scheme_id, issued_on.year)
    certificate = Certificate(
        number=spec.documents.certificate_number_for(issued_on.year, serial), year=issued_on.year, serial=serial,
        institution=institution, grade=grade, kind=kind, issued_on=issued_on,
        valid_until=rules.valid_until(issued_on, scheme=spec), issued_by=approved_by.province,
        approved_by=approved_by, supersedes=None,
    )
    if current is not None:
        before = _snapshot(current)
        CertificateLifecycle(current).supersede()
        current.status_changed_at = timezone.now()
        current.status_reason = _("Replaced by certificate %(number)s.") % {"number": certificate.number}
        current.save(update_fields=["status", "status_changed_at", "status_reason", "updated_at"])
        audit_record(actor=actor, action="certificate.supersede", target=current, before=before,
                     after=_snapshot(current), reason=current.status_reason)
        certificate.supersedes = current
    certificate.save()
    certificate.credential = certificate_credential_issue(certificate)
    audit_record(actor=actor, action="certificate.issue", target=certificate, after={
        "number": certificate.number, "institution": institution.pk, "grade": grade.code, "kind": kind,
        "issued_on": issued_on, "valid_until": certificate.valid_until,
    })
    return certificate


_VERBS = {
    "declare_recheck": "certificate.recheck_declared",
    "fail_recheck": "certificate.recheck_failed",
    "suspend": "certificate.suspend",
    "reinstate": "certificate.reinstate",
    "revoke": "certificate.revoke",
}
_NEEDS_REASON = {"fail_recheck", "suspend", "reinstate", "revoke"}


# What the issuing bureau decides (by its certificate officer); the other transitions are the process's own.
BUREAU_TRANSITIONS = ("suspend", "reinstate", "revoke")


@transaction.atomic(durable=True)
def certificate_transition(*, actor, certificate: Certificate, transition: str, reason: str = "") -> Certificate:
    """Move a certificate through one transition of its lifecycle (a reason where the rule asks one)."""
    if transition not in _VERBS:
        raise ValueError(f"unknown transition {transition!r}")
    reason = (reason or "").strip()
    if transition in _NEEDS_REASON and not reason:
        raise RuleViolation(Refusal(
            code="certificate.reason_required", rule=_("Certificate status"),
            message=_("A reason is required."), satisfy=_("Give the reason, as the holder will read it."),
        ))
    certificate = Certificate.objects.select_for_update().select_related("issued_by").get(pk=certificate.pk)
    if transition in BUREAU_TRANSITIONS:
        require(actor, ISSUE_FOR_BUREAU, certificate.issued_by,
                message=_("Only a certificate officer of %(bureau)s, which issued it, may do this.")
                % {"bureau": certificate.issued_by})
    before = _snapshot(certificate)
    try:
        getattr(CertificateLifecycle(certificate), transition)()
    except TransitionNotAllowed:
        raise RuleViolation(Refusal(
            code="certificate.transition_not_allowed", rule=_("Certificate status"),
            message=_("Certificate %(number)s is %(status)s: this change does not apply to it.")
            % {"number": certificate.number, "status": certificate.get_status_display()},
        )) from None
    certificate.status_changed_at = timezone.now()
    certificate.status_reason = reason
    certificate.save(update_fields=["status", "status_changed_at", "status_reason", "updated_at"])
    audit_record(actor=actor, action=_VERBS[transition], target=certificate, before=before,
                 after=_snapshot(certificate), reason=reason)
    return certificate


def recheck_settled_reasons() -> dict[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        return {
            "end_recheck": _("The recheck ended without a new certificate: the grade stands until its expiry, "
                             "and lapses then unless a recheck is declared."),
            "fail_recheck": _("The recheck ended without a new certificate after the grade's expiry: the grade "
                              "lapsed."),
        }


def certificate_recheck_settle(*, certificate: Certificate, case, now: dt.datetime | None = None) -> Certificate:
    """A recheck ended without a new certificate (withdrawn, cancelled, refused at any stage): settle the
    certificate it was to renew. Before the grade's expiry it is in force again (and lapses at expiry as any
    other, with the usual reminders); after its expiry date it lapses at once. Holder and approving bureau are
    told through the audit entry. Runs inside the transaction that ends the case; a certificate no longer
    "recheck in progress" (suspended or revoked meanwhile) is left as it is."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("a recheck is settled inside the transaction that ends its case")
    now = now or timezone.now()
    certificate = Certificate.objects.select_for_update().get(pk=certificate.pk)
    if certificate.status != CertificateStatus.RECHECK_IN_PROGRESS:
        return certificate
    today = rules.local_date(now, scheme=certificate.scheme_version.specification())
    expired = today > certificate.valid_until  # valid through its expiry date, as the lapse sweep counts
    transition = "fail_recheck" if expired else "end_recheck"
    before = _snapshot(certificate)
    getattr(CertificateLifecycle(certificate), transition)()
    certificate.status_changed_at = now
    certificate.status_reason = recheck_settled_reasons()[transition]
    certificate.save(update_fields=["status", "status_changed_at", "status_reason", "updated_at"])
    audit_record(actor=None, action="certificate.lapse" if expired else "certificate.recheck_ended",
                 target=certificate, before=before, after={**_snapshot(certificate), "case": case.reference},
                 reason=certificate.status_reason)
    return certificate


@transaction.atomic
def certificates_lapse_due(*, now: dt.datetime | None = None) -> int:
    """Lapse every certificate in force whose validity ended before today (local to its scheme).

    A certificate lapses at the start of the day after its expiry date unless its holder declared a recheck
    in time (status "recheck in progress"). Set-based and idempotent: running it twice lapses nothing twice.
    Each lapse is audited. Returns how many certificates lapsed.
    """
    now = now or timezone.now()
    reason = lapse_reason()
    lapsed = 0
    # Only versions with a certificate that may be due (EXISTS on the status and expiry index): the sweep's
    # cost follows what is due, not how many certificates exist. Any zone's local date is at most the UTC
    # date plus one day, so the bound below is safe before the version's own zone is known.
    bound = now.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    versions = SchemeVersion.objects.filter(Exists(Certificate.objects.filter(
        scheme_version=OuterRef("pk"), status__in=lapse_sources(), valid_until__lt=bound)))
    for version in versions:
        today = rules.local_date(now, scheme=version.specification())
        due = list(
            Certificate.objects.select_for_update()
            .filter(scheme_version=version, status__in=lapse_sources(), valid_until__lt=today)
            .only("pk", "number", "status")
        )
        if not due:
            continue
        lapsed += Certificate.objects.filter(pk__in=[c.pk for c in due]).update(
            status=CertificateStatus.LAPSED, status_changed_at=now, status_reason=reason, updated_at=now,
        )
        audit_record_many(actor=None, action="certificate.lapse", targets=due,
                          before={"status": CertificateStatus.IN_FORCE},
                          after={"status": CertificateStatus.LAPSED}, reason=reason)
    return lapsed


# --- The paper register -------------------------------------------------------------------------------------


def register_withdrawal_reason() -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return _("Imported in error: the register import that brought it in was withdrawn.")


def _register_refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Paper register"), message=message, satisfy=satisfy))


@transaction.atomic(durable=True)
def register_batch_withdraw(*, actor, batch: RegisterBatch, reason: str,
                            now: dt.datetime | None = None) -> RegisterBatch:
    """Withdraw a register import made in error, as a whole: within the grace period
    (``CERTIFICATION_REGISTER_WITHDRAW_DAYS`` after the import), by a certificate officer of its bureau, with a
    reason. Every certificate of the batch stands revoked with the reason "imported in error", each audited;
    nothing is deleted. Refused once the register has been used: a certificate of the batch superseded by a
    promotion or recheck, or with a recheck in progress."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise _register_refuse("register.reason_required", _("A reason is required."),
                               _("Say what was wrong with the import."))
    batch = RegisterBatch.objects.select_for_update().select_related("bureau").get(pk=batch.pk)
    require(actor, ISSUE_FOR_BUREAU, batch.bureau,
            message=_("Only a certificate officer of %(bureau)s may withdraw its register imports.")
            % {"bureau": batch.bureau})
    if batch.withdrawn_at is not None:
        raise _register_refuse("register.already_withdrawn", _("This import was already withdrawn on %(day)s.")
                               % {"day": timezone.localtime(batch.withdrawn_at).strftime("%Y-%m-%d %H:%M")})
    days = settings.CERTIFICATION_REGISTER_WITHDRAW_DAYS
    if now > batch.created_at + dt.timedelta(days=days):
        raise _register_refuse("register.grace_over", _("An import can be withdrawn only within %(days)d days; "
                                                        "this one was made on %(day)s.")
                               % {"days": days, "day": timezone.localtime(batch.created_at).strftime("%Y-%m-%d")},
                               _("Suspend or revoke its wrong certificates one by one instead."))
    certificates = list(Certificate.objects.select_for_update().filter(register_batch=batch).order_by("pk"))
    used = [c.number for c in certificates
            if c.status in (CertificateStatus.SUPERSEDED, CertificateStatus.RECHECK_IN_PROGRESS)]
    if used:
        raise _register_refuse("register.in_use", _("Certificates of this import are in use already (a promotion "
                                                    "or recheck): %(numbers)s.") % {"numbers": "、".join(used[:10])},
                               _("Revoke the wrong certificates one by one instead."))
    why = register_withdrawal_reason()
    changed = []
    for certificate in certificates:
        if certificate.status == CertificateStatus.REVOKED:
            continue
        CertificateLifecycle(certificate).withdraw_registered()
        changed.append(certificate)
    Certificate.objects.filter(pk__in=[c.pk for c in changed]).update(
        status=CertificateStatus.REVOKED, status_changed_at=now, status_reason=why, updated_at=now)
    audit_record_many(actor=actor, action="certificate.register_withdrawn", targets=changed,
                      after={"status": CertificateStatus.REVOKED, "batch": batch.pk}, reason=why)
    batch.withdrawn_at, batch.withdrawn_by, batch.withdrawal_reason = now, actor, reason
    batch.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason", "updated_at"])
    audit_record(actor=actor, action="register.withdraw", target=batch,
                 after={"certificates": len(changed)}, reason=reason)
    return batch
