"""The bureau's page for late declarations, and what the applicant sees of an inclusion: on the declaration
page, and on its case once declared. Only a bureau's staff reach the page; bad input changes nothing."""


import pytest
from django.urls import reverse

from certification import permissions
from certification.enums import InstitutionLevel, Role
from certification.models import AuditEntry, LateInclusion
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import all_conditions, at, field_error

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]



@pytest.fixture(autouse=True)
def april():
    with at(2026, 4, 5, 10, 0):
        yield


@pytest.fixture
def people(archives_version, regions, bureaus):
    institution = InstitutionFactory(name="乡政府", region=regions["township"], level=InstitutionLevel.TOWNSHIP)
    applicant, staff, other_staff = UserFactory(), UserFactory(), UserFactory()
    permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
    permissions.role_grant(user=staff, role=Role.BUREAU_STAFF, obj=bureaus["county"])
    permissions.role_grant(user=other_staff, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    return {"institution": institution, "applicant": applicant, "staff": staff, "other_staff": other_staff}


def include(client, people, bureaus, **data):
    client.force_login(people["staff"])
    return client.post(reverse("late_inclusions"), {
        "grant": "1", "bureau": bureaus["county"].pk, "scheme": "archives", "institution": people["institution"].uscc,
        "declare_by": "2026-04-30", "reason": "单位搬迁，档案整理延误", **data})


def test_the_bureau_includes_a_late_declaration_and_the_applicant_declares_by_the_day(client, people, bureaus):
    client.force_login(people["staff"])
    page = client.get(reverse("late_inclusions")).content.decode()
    assert "列入逾期申报" in page and 'name="institution"' in page  # the institution by its code
    assert 'type="date" name="declare_by" value="2026-05-05"' in page  # 30 days on, as the browser reads it
    inbox = client.get(reverse("inbox")).content.decode()  # the bureau's pages are reached from the inbox
    for url in (reverse("late_inclusions"), reverse("documents:summaries"), reverse("spreadsheets")):
        assert f'href="{url}"' in inbox

    response = include(client, people, bureaus)

    assert response.status_code == 302
    listed = client.get(reverse("late_inclusions")).content.decode()
    assert "单位搬迁，档案整理延误" in listed and "2026-04-30" in listed and "尚未申报" in listed
    client.force_login(people["applicant"])
    declare_page = client.get(reverse("declare")).content.decode()
    assert "已将乡政府的逾期申报列入计划：请于2026-04-30前申报" in declare_page

    answers, evidence = all_conditions()
    response = client.post(reverse("declare"), {
        "institution": people["institution"].pk, "grade": "second", "kind": "promotion",
        **{f"answer_{c}": a for c, a in answers.items()}, **{f"evidence_{c}": f for c, f in evidence.items()}})

    inclusion = LateInclusion.objects.get()
    assert response.status_code == 302, response.content.decode()
    assert inclusion.case is not None and response.url == reverse("case_detail", args=[inclusion.case.pk])
    case_page = client.get(response.url).content.decode()
    assert "人工列入计划" in case_page and "单位搬迁，档案整理延误" in case_page


@pytest.mark.parametrize(("data", "expected"), [
    ({"reason": ""}, "该字段是必填项。"),
    ({"declare_by": "2026-04-01"}, "申报的最后一天须在今天至本年年底之间"),
    ({"declare_by": "not a day"}, "输入一个有效的日期。"),
    ({"institution": "999999"}, "您所在主管部门辖区内没有此统一社会信用代码的机关"),
    ({"institution": "91110000100000000X"}, "您所在主管部门辖区内没有此统一社会信用代码的机关"),
])
def test_bad_input_is_told_in_chinese_and_includes_nothing(client, people, bureaus, data, expected):
    response = include(client, people, bureaus, **data)

    assert response.status_code == 400
    assert expected in response.content.decode()
    assert LateInclusion.objects.count() == 0
    assert not AuditEntry.objects.filter(action="late_inclusion.grant").exists()


def test_only_a_bureaus_staff_reach_the_page_and_each_bureau_only_its_own(client, people, bureaus):
    include(client, people, bureaus)
    inclusion = LateInclusion.objects.get()
    for user in (people["applicant"], UserFactory()):
        client.force_login(user)
        assert client.get(reverse("late_inclusions")).status_code == 404
    client.force_login(people["other_staff"])  # the city bureau: another bureau's inclusion is not there
    assert "单位搬迁" not in client.get(reverse("late_inclusions")).content.decode()
    forged = client.post(reverse("late_inclusions"), {"withdraw": "1", "inclusion": inclusion.pk, "reason": "越权"})
    assert forged.status_code == 404
    for made_up in ("abc", "", "99999999999999999999"):
        assert client.post(reverse("late_inclusions"),
                           {"withdraw": "1", "inclusion": made_up, "reason": "伪造"}).status_code == 404
    # nor may it include for a bureau it does not work in
    refused = client.post(reverse("late_inclusions"), {
        "grant": "1", "bureau": bureaus["county"].pk, "institution": people["institution"].uscc,
        "declare_by": "2026-04-30", "reason": "越权"})
    assert refused.status_code == 400
    inclusion.refresh_from_db()
    assert inclusion.archived_at is None and LateInclusion.objects.count() == 1


def test_the_bureau_withdraws_an_unused_inclusion_with_a_reason(client, people, bureaus):
    include(client, people, bureaus)
    inclusion = LateInclusion.objects.get()

    without = client.post(reverse("late_inclusions"), {"withdraw": "1", "inclusion": inclusion.pk, "reason": ""})
    done = client.post(reverse("late_inclusions"), {"withdraw": "1", "inclusion": inclusion.pk, "reason": "误选单位"})
    twice = client.post(reverse("late_inclusions"), {"withdraw": "1", "inclusion": inclusion.pk, "reason": "再撤"})

    assert without.status_code == 400 and done.status_code == 302
    assert twice.status_code == 400 and "已使用或已撤回" in twice.content.decode()
    inclusion.refresh_from_db()
    assert inclusion.archived_at is not None
    assert "已撤回" in client.get(reverse("late_inclusions")).content.decode()
    client.force_login(people["applicant"])
    assert "逾期申报列入计划" not in client.get(reverse("declare")).content.decode()


def test_the_institution_is_given_by_its_code_as_written_not_chosen_from_thousands(client, people, bureaus):
    client.force_login(people["staff"])
    page = client.get(reverse("late_inclusions")).content.decode()
    assert '<select name="institution"' not in page and "乡政府" not in page  # no list of the territory

    uscc = people["institution"].uscc
    response = include(client, people, bureaus, institution=f" {uscc[:6].lower()} {uscc[6:].lower()} ")

    assert response.status_code == 302
    assert LateInclusion.objects.get().institution == people["institution"]


def ask(client, people, **data):
    client.force_login(people["applicant"])
    return client.post(reverse("declare"), {"scheme": "archives", "late-ask": f"{people['institution'].pk}:second",
                                            "late-reason": "单位机构改革，档案整理延误", **data})


def test_the_applicant_asks_from_the_declaration_page_and_the_bureau_refuses_then_includes(client, people, bureaus):
    from certification.models import LateInclusionRequest
    from notifications.kinds import Kind as NoticeKind
    from notifications.models import Notification

    client.force_login(people["applicant"])
    page = client.get(reverse("declare")).content.decode()
    assert "申请主管部门列入逾期申报" in page and 'name="late-reason"' in page
    assert "乡政府 · 省二级 · 县档案局" in page  # each grade with the bureau that plans it

    # no reason: told beside the field, what was chosen kept, nothing sent
    response = ask(client, people, **{"late-reason": " "})
    assert response.status_code == 400 and field_error(response, "late-reason")
    assert 'value="{}:second" selected'.format(people["institution"].pk) in response.content.decode()
    assert LateInclusionRequest.objects.count() == 0
    # a forged choice (an institution not the applicant's) is refused beside the field
    other = InstitutionFactory(name="他乡政府", region=people["institution"].region, level=InstitutionLevel.TOWNSHIP)
    response = ask(client, people, **{"late-ask": f"{other.pk}:second"})
    assert response.status_code == 400 and field_error(response, "late-ask")
    assert LateInclusionRequest.objects.count() == 0

    assert ask(client, people).status_code == 302
    asked = LateInclusionRequest.objects.get()
    assert (asked.bureau, asked.grade.code, asked.status) == (bureaus["county"], "second", "open")
    told = Notification.objects.get(recipient=people["staff"], kind=NoticeKind.LATE_REQUESTED)
    assert "乡政府申请县档案局将其省二级逾期申报列入本年度考评计划，理由：单位机构改革，档案整理延误。" in told.text
    twice = ask(client, people)  # a double submit sends nothing more
    assert twice.status_code == 400 and "已向县档案局提出申请，主管部门尚未答复" in twice.content.decode()
    assert LateInclusionRequest.objects.count() == 1
    assert "待主管部门答复" in client.get(reverse("declare")).content.decode()

    # the county's staff read it on their page; a refusal needs a reason; the applicant reads it
    client.force_login(people["staff"])
    page = client.get(reverse("late_inclusions")).content.decode()
    assert "单位机构改革，档案整理延误" in page and 'name="refuse_request"' in page
    without = client.post(reverse("late_inclusions"), {"request": asked.pk, "refuse_request": "1",
                                                       f"r{asked.pk}-reason": ""})
    assert without.status_code == 400 and field_error(without, f"r{asked.pk}-reason")
    # another bureau's staff cannot answer it
    client.force_login(people["other_staff"])
    assert client.post(reverse("late_inclusions"), {"request": asked.pk, "refuse_request": "1",
                                                    f"r{asked.pk}-reason": "越权"}).status_code == 404
    client.force_login(people["staff"])
    done = client.post(reverse("late_inclusions"), {"request": asked.pk, "refuse_request": "1",
                                                    f"r{asked.pk}-reason": "本年度计划已报省局"})
    assert done.status_code == 302
    asked.refresh_from_db()
    assert (asked.status, asked.answer) == ("refused", "本年度计划已报省局")
    refused = Notification.objects.get(recipient=people["applicant"], kind=NoticeKind.LATE_REFUSED)
    assert "本年度计划已报省局" in refused.text
    client.force_login(people["applicant"])
    assert "未予列入，理由：本年度计划已报省局" in client.get(reverse("declare")).content.decode()

    # asked again, the bureau includes it from the request: the applicant may declare
    assert ask(client, people, **{"late-reason": "已补齐材料，恳请列入"}).status_code == 302
    again = LateInclusionRequest.objects.get(status="open")
    client.force_login(people["staff"])
    no_day = client.post(reverse("late_inclusions"), {"request": again.pk, "grant_request": "1",
                                                      f"r{again.pk}-reason": "同意", f"r{again.pk}-declare_by": ""})
    assert no_day.status_code == 400 and field_error(no_day, f"r{again.pk}-declare_by")
    response = client.post(reverse("late_inclusions"), {"request": again.pk, "grant_request": "1",
                                                        f"r{again.pk}-reason": "材料齐全，同意列入",
                                                        f"r{again.pk}-declare_by": "2026-04-30"})
    assert response.status_code == 302
    again.refresh_from_db()
    inclusion = LateInclusion.objects.get()
    assert (again.status, again.inclusion, inclusion.institution) == ("granted", inclusion, people["institution"])
    client.force_login(people["applicant"])
    assert "请于2026-04-30前申报" in client.get(reverse("declare")).content.decode()


def test_inside_the_window_there_is_nothing_to_ask(client, people):
    from certification.models import LateInclusionRequest
    from certification.services.late_inclusions import late_inclusion_ask

    with at(2026, 2, 5, 10, 0):
        client.force_login(people["applicant"])
        assert 'name="late-reason"' not in client.get(reverse("declare")).content.decode()
        from certification.exceptions import RuleViolation

        with pytest.raises(RuleViolation) as refused:
            late_inclusion_ask(actor=people["applicant"], institution=people["institution"], scheme="archives",
                               grade="second", reason="提前询问")
    assert refused.value.refusals[0].code == "late.window_open"
    assert LateInclusionRequest.objects.count() == 0
