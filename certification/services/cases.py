"""Cases: the declaration (stage 1 of DESIGN §4). Later stages are driven by the case's Viewflow process."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import rules
from ..enums import CERTIFICATE_STATUSES_CURRENT, Kind
from ..exceptions import NotEligible, Refusal, RuleViolation
from ..models import Case, CasePrerequisite, Certificate, Grade, Institution, Outcome, Scheme
from ..permissions import can
from ..selectors import assessing_bureau, declarant_for, filing_bureau
from ..uploads import upload_refusals
from .audit import audit_record


def _refuse(code: str, message: str, satisfy: str = "") -> RuleViolation:
    return RuleViolation(Refusal(code=code, rule=_("Declaration"), message=message, satisfy=satisfy))


@transaction.atomic(durable=True)
def case_declare(
    *,
    actor,
    institution: Institution,
    grade: str,
    kind: str,
    answers: Mapping[str, str],
    evidence: Mapping[str, UploadedFile],
    gates: Mapping[str, bool] | None = None,
    scheme: str = "archives",
    now: dt.datetime | None = None,
) -> Case:
    """An institution declares for a grade (promotion) or for the recheck of the grade it holds.

    Every rule of DESIGN §3.1–3.2 is checked against the system's own records, every evidence file for its
    type and size, and the bureau that assesses is computed. All refusals are raised together, and nothing
    is stored unless the declaration is accepted. A second declaration while one is open is refused.
    """
    if not can(actor, "certification.act_for_institution", institution):
        raise _refuse("declaration.not_your_institution",
                      _("You may declare only for the institution you act for."))
    if kind not in Kind.values:
        raise ValueError(f"unknown kind {kind!r}")
    version = Scheme.objects.get(code=scheme).current_version()
    spec = version.specification()
    now = now or timezone.now()
    today = rules.local_date(now, scheme=spec)
    institution = Institution.objects.select_for_update().get(pk=institution.pk)

    refusals: list[Refusal] = []
    if Case.objects.filter(institution=institution, scheme=version.scheme_id, outcome=Outcome.OPEN).exists():
        refusals.append(Refusal(
            code="declaration.case_open", rule=_("Declaration"),
            message=_("The institution already has a declaration in progress."),
            satisfy=_("Follow it to its end, or withdraw it, before declaring again."),
        ))
    unknown = set(answers) - {p.code for p in spec.prerequisites}
    if unknown:
        raise ValueError(f"unknown conditions {sorted(unknown)}")
    for code, upload in evidence.items():
        refusals.extend(upload_refusals(upload, field=code))
    declaration = rules.Declaration(
        grade=grade, kind=kind, prerequisites=dict(answers), evidence=frozenset(evidence), gates=dict(gates or {}),
    )
    try:
        spec.grade(grade)
    except KeyError:
        raise ValueError(f"unknown grade {grade!r}") from None
    refusals.extend(rules.declaration_refusals(declarant_for(institution, version=version), declaration,
                                               today=today, scheme=spec))
    if refusals:
        raise NotEligible(*refusals)

    renews = None
    if kind == Kind.RECHECK:
        renews = Certificate.objects.get(institution=institution, scheme=version.scheme_id,
                                         status__in=CERTIFICATE_STATUSES_CURRENT)
    case = Case(
        institution=institution, scheme_version=version, grade=Grade.objects.get(version=version, code=grade),
        kind=kind, year=today.year, bureau=assessing_bureau(institution, grade=grade, kind=kind, version=version),
        filing_bureau=filing_bureau(institution, grade=grade, kind=kind, version=version), renews=renews,
        declared_at=now, declared_by=actor, gates=dict(gates or {}),
    )
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError:  # a concurrent declaration won the race
        raise _refuse("declaration.case_open", _("The institution already has a declaration in progress."),
                      _("Follow it to its end, or withdraw it, before declaring again.")) from None
    case.reference = f"{today.year}{case.pk:06d}"
    case.save(update_fields=["reference", "updated_at"])
    for code, answer in answers.items():
        row = CasePrerequisite(case=case, code=code, answer=answer)
        if code in evidence:
            row.evidence.save(evidence[code].name, evidence[code], save=False)
        row.save()
    audit_record(actor=actor, action="case.declare", target=case, after={
        "reference": case.reference, "institution": institution.pk, "grade": grade, "kind": kind,
        "bureau": case.bureau_id, "answers": dict(answers), "evidence": sorted(evidence),
    })
    return case
