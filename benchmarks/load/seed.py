"""Seed the load run's database through the real case actions, and write the plan the Locust users read.

``python -m benchmarks.load.seed PLAN.json`` (under ``config.settings.local`` with ``DATABASE_URL`` set to the
throwaway database, ``CELERY_TASK_ALWAYS_EAGER=true``): the demo's province and bureaus, then

- ``REVIEW_CASES`` cases of city institutions taken to the panel review, each with a panel of
  ``MEMBERS`` experts (one case per expert), every member's "score" task open;
- ``APPROVED_CASES`` cases taken through the review and approval, waiting in the certificate queue of the
  officer ``loadofficer``;
- ``CLERKS`` bureau staff of the city bureau that assesses every one of them.

Every step is the action a page calls (``workflows.actions``), so the Viewflow tasks are the real ones. The
early stages run on a clock moved into the year's declaration window and the notice's days; the panels are
formed now, so the scoring deadlines are ahead.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from functools import partial

REVIEW_CASES = 40
MEMBERS = 5
APPROVED_CASES = 50
CLERKS = 5
PASSWORD = "load-run-pass-2026"  # noqa: S105 - throwaway database, dropped after the run
CITY = "420100"  # 武汉市档案局 assesses a city institution's second grade


def _qd(action: str, data: dict | None = None):
    from django.http import QueryDict

    payload = QueryDict(mutable=True)
    payload["action"] = action
    for key, value in (data or {}).items():
        if isinstance(value, list):
            payload.setlist(f"{action}-{key}", [str(v) for v in value])
        else:
            payload[f"{action}-{key}"] = str(value)
    return payload


def act(user, case, node: str, action: str, data: dict | None = None):
    """Post ``action`` on the open task ``node`` of ``case`` as its page would (``workflows.actions.task_act``)."""
    from workflows import actions, engine

    flow = engine._flow()
    tasks = [t for t in engine.open_tasks(case).filter(flow_task=getattr(flow, node))
             if t.owner_id in (None, user.pk)]
    if not tasks:
        raise RuntimeError(f"case {case.pk}: no open task {node} for {user}")
    outcome = actions.task_act(user=user, case=case, task=tasks[0], action=action, data=_qd(action, data))
    if not outcome.ok:
        errors = outcome.refusal or (outcome.form.errors if outcome.form is not None else outcome.closed)
        raise RuntimeError(f"case {case.pk}: {node}/{action} refused: {errors}")
    return tasks[0]


def _pdf(name: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, b"%PDF-1.7\n%\xe2\xe3\n", content_type="application/pdf")


def _people():
    """The users of the run: experts, clerks, the officer, one applicant for every institution."""
    from django.contrib.auth.hashers import make_password

    from certification.enums import InstitutionLevel, Role
    from certification.models import (
        Bureau,
        BureauMembership,
        Expert,
        Institution,
        Region,
        User,
    )
    from certification.permissions import role_grant
    from certification.services.demo import demo_uscc

    hashed = make_password(PASSWORD)  # once: the same password for every user of the run

    def user(username: str, full_name: str) -> User:
        return User.objects.create(username=username, full_name=full_name, password=hashed, language="zh-hans",
                                   email=f"{username}@load.invalid")

    city = Bureau.objects.get(region__code=CITY)
    province = city.parent
    today = dt.date.today()
    experts = []
    for n in range(REVIEW_CASES * MEMBERS + MEMBERS):  # the last MEMBERS sit on the approved cases' panels
        username = f"loadexpert{n:03d}" if n < REVIEW_CASES * MEMBERS else f"loadchair{n - REVIEW_CASES * MEMBERS}"
        u = user(username, f"负载专家{n:03d}")
        expert = Expert.objects.create(
            user=u, name=f"负载专家{n:03d}", pool=city, reviewer_level=city.level, grades=["second", "first"],
            title="档案馆员", term_starts_on=today - dt.timedelta(days=365), term_ends_on=today + dt.timedelta(days=730))
        role_grant(user=u, role=Role.EXPERT, obj=expert)
        experts.append(expert)
    clerks = []
    for n in range(CLERKS):
        u = user(f"loadclerk{n}", f"负载考评员{n}")
        BureauMembership.objects.create(user=u, bureau=city)
        role_grant(user=u, role=Role.BUREAU_STAFF, obj=city)
        clerks.append(u)
    officer = user("loadofficer", "负载制证员")
    BureauMembership.objects.create(user=officer, bureau=province)
    role_grant(user=officer, role=Role.CERTIFICATE_OFFICER, obj=province)
    applicant = user("loadapplicant", "负载申报人")
    region = Region.objects.get(code=CITY)
    institutions = []
    for n in range(REVIEW_CASES + APPROVED_CASES):
        name = f"武汉市负载测试第{n:03d}单位"
        institution = Institution.objects.create(
            name=name, uscc=demo_uscc(CITY, name), level=InstitutionLevel.CITY, region=region,
            contact_name="负载联系人", contact_phone="027-00000000")
        role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
        institutions.append(institution)
    return experts, clerks, officer, applicant, institutions


def _to_notice(case, *, applicant, staff, prechecker, spec, declared_at):
    """Plan, self-check and acceptance request, designation, pre-check passed: each one action."""
    from certification.services import cases as case_services
    from workflows import actions
    from workflows.demo import self_check_in_full

    actions.task_complete(user=staff, case=case, node="plan",
                          work=partial(case_services.case_plan_include, actor=staff, case=case))

    actions.task_complete(user=applicant, case=case, node="self_check", work=partial(
        self_check_in_full, case=case, applicant=applicant, spec=spec, now=declared_at))
    actions.task_complete(user=staff, case=case, node="designate", work=partial(
        case_services.case_designate_prechecker, actor=staff, case=case, prechecker=prechecker))
    actions.task_complete(user=prechecker, case=case, node="precheck", work=partial(
        case_services.case_precheck_decide, actor=prechecker, case=case, passed=True, summary="材料齐全，符合要求",
        opinions={}))


def _through_review(case, *, members, spec, approver):
    """Every member scores and submits, the chair records the on-site steps, consolidates and concludes, and
    the approver approves: the case waits in the certificate queue."""
    from certification.models import OnsiteStep, ScoreSheet, SheetKind
    from certification.scoring import ItemEntry
    from certification.services import sheets as sheet_services

    items = [item for _c, item in spec.rubric_for(case.grade.code).items()]
    for expert in members:
        sheet = ScoreSheet.objects.get(case=case, kind=SheetKind.MEMBER, expert=expert)
        for item in items:
            sheet_services.sheet_record(actor=expert.user, sheet=sheet, item_code=item.code, entry=ItemEntry())
        act(expert.user, case, "score", "submit")
    chair = members[0].user
    for step in OnsiteStep.values:
        act(chair, case, "onsite", "step", {"step": step})
    act(chair, case, "onsite", "done")
    act(chair, case, "conclude", "consolidate")
    act(chair, case, "conclude", "conclude", {"conclusion": "达到二级标准"})
    act(approver, case, "approve", "decide", {"decision": "approve", "reasons": "依据齐全，同意"})


def seed(plan_path: str) -> dict:
    import time_machine
    from django.db import transaction

    from certification.enums import Kind
    from certification.models import Bureau, Case, Outcome, Scheme, Stage, User
    from certification.services.demo import demo_seed
    from certification.services.panels import panel_form, panel_member_sign_recusal
    from certification.tasks import fire_due_timers
    from workflows import actions, engine

    started = time.monotonic()
    demo_seed()
    with transaction.atomic():
        experts, clerks, officer, applicant, institutions = _people()
    city = Bureau.objects.get(region__code=CITY)
    staff, prechecker, approver = (User.objects.get(username=u) for u in ("bureau", "prechecker", "approver"))
    spec = Scheme.objects.get(code="archives").current_version().specification()
    year = dt.date.today().year
    tz = dt.timezone(dt.timedelta(hours=8))
    declared_at = dt.datetime(year, 1, 15, 9, 0, tzinfo=tz)
    cases = []
    with time_machine.travel(declared_at, tick=True):
        answers = {p.code: ("na" if p.na_allowed else "yes") for p in spec.prerequisites}
        for institution in institutions:
            case = actions.case_declare(
                scheme="archives",
                actor=applicant, institution=institution, grade="second", kind=Kind.PROMOTION, answers=answers,
                evidence={c: _pdf(f"{c}.pdf") for c, a in answers.items() if a == "yes"}, now=declared_at)
            _to_notice(case, applicant=applicant, staff=staff, prechecker=prechecker, spec=spec,
                       declared_at=declared_at)
            cases.append(case)
    with time_machine.travel(dt.datetime(year, 3, 1, 10, 0, tzinfo=tz), tick=True):
        actions.notice_publish(actor=staff, bureau=city, cases=cases, title=f"{year}年等级考评公示（负载测试）")
    fire_due_timers()  # the notice closed days ago: every case waits for its panel
    # The officer signs in with a second factor (README, "Sign-in security"): an authenticator whose key the
    # load run's officer uses to compute its code.
    from django_otp.plugins.otp_totp.models import TOTPDevice

    authenticator = TOTPDevice.objects.create(user=officer, name="load", confirmed=True)
    plan = {"password": PASSWORD, "experts": [], "clerks": [c.username for c in clerks],
            "officer": officer.username, "officer_totp_key": authenticator.key, "review_cases": [],
            "approved_cases": []}
    chairs = experts[REVIEW_CASES * MEMBERS:]
    for n, case in enumerate(cases):
        members = experts[n * MEMBERS:(n + 1) * MEMBERS] if n < REVIEW_CASES else chairs
        actions.task_complete(user=staff, case=case, node="form_panel", work=partial(
            panel_form, actor=staff, case=case, members=members, chair=members[0]))
        for seat in case.panel.memberships.select_related("expert__user"):  # each signs the 回避声明 first
            panel_member_sign_recusal(actor=seat.expert.user, member=seat)
        if n < REVIEW_CASES:
            plan["review_cases"].append(case.pk)
            flow = engine._flow()
            for expert in members:
                task = engine.open_tasks(case).get(flow_task=flow.score, owner=expert.user)
                plan["experts"].append({"username": expert.user.username, "case": case.pk, "task": task.pk,
                                        "path": f"/cases/{case.pk}/tasks/{task.pk}/"})
        else:
            _through_review(case, members=members, spec=spec, approver=approver)
            plan["approved_cases"].append(case.pk)
    waiting = Case.objects.filter(pk__in=plan["approved_cases"], stage=Stage.CERTIFICATE, outcome=Outcome.OPEN)
    if waiting.count() != APPROVED_CASES:
        raise RuntimeError(f"only {waiting.count()} of {APPROVED_CASES} cases wait for their certificate")
    plan["seconds"] = round(time.monotonic() - started, 1)
    with open(plan_path, "w", encoding="utf-8") as out:
        json.dump(plan, out, ensure_ascii=False, indent=1)
    return plan


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m benchmarks.load.seed PLAN.json", file=sys.stderr)
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    plan = seed(argv[0])
    print(f"seeded in {plan['seconds']} s: {len(plan['experts'])} scoring tasks, "
          f"{len(plan['approved_cases'])} cases in the certificate queue, {len(plan['clerks'])} clerks")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
