"""Demo cases in progress, so that each demo login finds work in its task inbox: the bureau a declaration to
plan, the applicant its self-check, the pre-checker a case to pre-check. The cases (institution, grade, how
far each goes) and the scheme are the demo's data (``cases`` in certification/demo/province.yaml). Driven
through the same actions (``workflows.actions``: a service and its process step in one transaction) as real
cases; idempotent."""

from __future__ import annotations

import datetime as dt
from functools import partial

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from certification import rules
from certification.enums import Kind, Role
from certification.exceptions import RuleViolation
from certification.models import Case, Institution, Outcome, Scheme, User
from certification.permissions import ACT_FOR_INSTITUTION, role_grant
from certification.scoring import ItemEntry
from certification.services import cases as case_services
from certification.services import sheets as sheet_services
from certification.services.demo import DemoWorld, demo_world, refuse_in_production

from . import actions


def _pdf(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, b"%PDF-1.7\n%\xe2\xe3\n", content_type="application/pdf")


def self_check_in_full(*, case: Case, applicant, spec, now) -> None:
    """The applicant's self-check as a clean one (every item in full), the report, the integrity notice
    and the acceptance request: what the demo and the load run's seed do for a case they move on."""
    sheet = sheet_services.self_check_sheet(actor=applicant, case=case)
    for _c, item in spec.rubric_for(case.grade.code).items():
        sheet_services.sheet_record(actor=applicant, sheet=sheet, item_code=item.code, entry=ItemEntry())
    sheet_services.sheet_submit(actor=applicant, sheet=sheet)
    case_services.case_attach_report(actor=applicant, case=case, upload=_pdf("汇报材料.pdf"))
    case_services.case_acknowledge_integrity(actor=applicant, case=case)
    case_services.case_request_acceptance(actor=applicant, case=case, now=now)


def _declarer(institution: Institution):
    return User.objects.filter(userobjectpermission__permission__codename=ACT_FOR_INSTITUTION.partition(".")[2],
                               userobjectpermission__object_pk=str(institution.pk)).first()


def demo_cases(world: DemoWorld | None = None) -> list[str]:
    """Declare the demo cases that are missing and take each to its stage, each step one action (its own
    transaction). Returns what was created. ``world`` defaults to the shipped demo data file; one naming a grade
    its scheme lacks is refused (``DemoDataError``) before anything is declared."""
    refuse_in_production()
    world = world or demo_world()
    spec = Scheme.objects.get(code=world.scheme.code).current_version().specification()
    world.check_scheme(spec)
    year = rules.local_date(timezone.now(), scheme=spec).year
    # inside the declaration window of this year, whatever today is (the demo's declarations are dated so)
    declared_at = timezone.make_aware(dt.datetime(year, 1, 15, 9, 0))
    staff = User.objects.get(username="bureau")
    prechecker = User.objects.get(username="prechecker")
    created = []
    for demo_case in world.cases:
        name, grade, goal = demo_case.institution, demo_case.grade, demo_case.until
        institution = Institution.objects.filter(name=name).first()
        if institution is None or Case.objects.filter(institution=institution, outcome=Outcome.OPEN).exists():
            continue
        applicant = User.objects.filter(username="applicant").first() if name == world.applicant_institution else None
        if applicant is None:
            # a stand-in for the institution's contact, who cannot sign in (no usable password)
            applicant, made = User.objects.get_or_create(username=f"demo-{institution.pk}", defaults={
                "full_name": institution.contact_name or name})
            if made:
                applicant.set_unusable_password()
                applicant.save(update_fields=["password"])
            role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
        answers = {p.code: ("na" if p.na_allowed else "yes") for p in spec.prerequisites}
        try:
            case = actions.case_declare(
                scheme=spec.code,
                actor=applicant, institution=institution, grade=grade, kind=Kind.PROMOTION, answers=answers,
                evidence={c: _pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"}, now=declared_at)
        except RuleViolation:
            continue
        created.append(f"{case.reference} {name}")
        if goal == "plan":
            continue
        actions.task_complete(user=staff, case=case, node="plan",
                              work=partial(case_services.case_plan_include, actor=staff, case=case))
        if goal == "self_check":
            continue

        actions.task_complete(user=applicant, case=case, node="self_check", work=partial(
            self_check_in_full, case=case, applicant=applicant, spec=spec, now=declared_at))
        actions.task_complete(user=staff, case=case, node="designate", work=partial(
            case_services.case_designate_prechecker, actor=staff, case=case, prechecker=prechecker))
    return created
