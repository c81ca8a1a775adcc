"""The annual approvals summary a city bureau sends the province (DESIGN §3.6): the frozen PDF read back, its
SHA-256, the audit entry, the province told, the overdue sweep, corrections, and every refusal changing
nothing; the summaries page for the city and for the province."""

import hashlib
import re

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from certification import permissions
from certification.enums import BureauLevel, RegionLevel, Role
from certification.exceptions import RuleViolation
from certification.models import AuditEntry, HardDeleteRefused, SummarySubmission
from certification.services.audit import audit_verify
from certification.services.summaries import SUMMARY_SENT_ACTION, summary_submit
from notifications.kinds import Kind
from notifications.models import Notification
from notifications.sweeps import annual_summary_send
from tests.certification.test_documents import pdf_text
from tests.factories import BureauFactory, RegionFactory, UserFactory
from tests.worlds import at, local, run_case, staff_of

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "archives_version")]


def another_city(bureaus, n=2):
    region = RegionFactory(name=f"第{n}市", code=f"42{n:02d}00", level=RegionLevel.CITY,
                           parent=bureaus["province"].region)
    return BureauFactory(region=region, level=BureauLevel.CITY, parent=bureaus["province"])


@pytest.fixture
def city(bureaus):
    return staff_of(bureaus["city"], email="city@example.org")


@pytest.fixture
def province(bureaus):
    return staff_of(bureaus["province"], email="province@example.org")


def stored_files(settings):
    root = settings.MEDIA_ROOT / "summaries"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def nothing_changed(settings):
    assert SummarySubmission.objects.count() == 0
    assert not AuditEntry.objects.filter(action=SUMMARY_SENT_ACTION).exists()
    assert not Notification.objects.filter(kind__in=[Kind.SUMMARY_RECEIVED, Kind.SUMMARY_CORRECTED]).exists()
    assert stored_files(settings) == []


# --- The service --------------------------------------------------------------------------------------------

def test_the_city_staff_send_the_summary_frozen_with_its_hash_audited_and_told_to_the_province(
        world, bureaus, city, province):
    case = run_case(world)  # a county case, approved 2026-03-20: in the city's summary (the bureaus below)

    with at(2026, 12, 10, 9, 30):
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)

    stored = sent.file.read()
    assert hashlib.sha256(stored).hexdigest() == sent.sha256
    assert (sent.size, stored[:5]) == (len(stored), b"%PDF-")
    text = pdf_text(stored)
    assert f"{bureaus['city'].name}2026年机关档案工作目标管理等级考评审批情况汇总表" in text
    assert case.institution.name in text and "2026年12月10日" in text
    assert (sent.bureau, sent.year, sent.sent_by, sent.archived_at) == (bureaus["city"], 2026, city, None)
    assert sent.sent_at == local(2026, 12, 10, 9, 30)
    assert [row[1] for row in sent.rows] == [case.institution.name]
    assert bureaus["city"].name in sent.html
    entry = AuditEntry.objects.get(action=SUMMARY_SENT_ACTION)
    assert (entry.actor, entry.target_type, entry.target_id) == (city, "certification.bureau", str(bureaus["city"].pk))
    assert entry.after == {"year": 2026, "scheme": "archives", "sha256": sent.sha256, "submission": sent.pk, "approvals": 1}
    assert audit_verify().ok
    told = Notification.objects.get(kind=Kind.SUMMARY_RECEIVED)
    assert told.recipient == province
    assert told.params == {"bureau": bureaus["city"].name, "year": "2026", "scheme": "湖北省机关档案工作目标管理等级考评",
                           "approvals": "1", "reason": ""}
    assert told.text == f"{bureaus['city'].name}已报送2026年度湖北省机关档案工作目标管理等级考评审批情况汇总（审批1件）。"
    assert not Notification.objects.filter(kind=Kind.SUMMARY_RECEIVED, recipient=city).exists()


def test_a_corrected_send_needs_a_reason_and_archives_the_copy_sent_before(world, bureaus, city, province):
    with at(2026, 3, 2, 10, 0):
        first = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)  # no approval yet
    assert "本年度无审批事项" in pdf_text(first.file.read())
    run_case(world)  # approved 2026-03-20: the summary's approvals change

    with at(2026, 12, 10, 9, 0):
        with pytest.raises(RuleViolation) as refused:
            summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026, reason="  ")
        assert refused.value.codes == ["summary.reason_required"]
        assert refused.value.refusals[0].message == "须填写理由。"
        assert SummarySubmission.objects.get() == first
        second = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026, reason="补报3月20日审批的一件")

    first.refresh_from_db()
    assert first.archived_at == local(2026, 12, 10, 9, 0)
    assert (second.archived_at, second.reason, len(second.rows)) == (None, "补报3月20日审批的一件", 1)
    assert SummarySubmission.objects.active().get(bureau=bureaus["city"], year=2026) == second
    assert first.file.read()[:5] == b"%PDF-"  # the copy sent before is kept
    entries = list(AuditEntry.objects.filter(action=SUMMARY_SENT_ACTION).order_by("id"))
    assert [e.after["sha256"] for e in entries] == [first.sha256, second.sha256]
    assert entries[1].before == {"year": 2026, "scheme": "archives", "sha256": first.sha256}
    assert entries[1].reason == "补报3月20日审批的一件"
    corrected = Notification.objects.get(kind=Kind.SUMMARY_CORRECTED)
    assert (corrected.recipient, corrected.params["reason"]) == (province, "补报3月20日审批的一件")


def test_a_double_submit_is_refused_and_changes_nothing(bureaus, city, province, settings):
    with at(2026, 12, 10, 9, 0):
        first = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    with at(2026, 12, 10, 9, 1), pytest.raises(RuleViolation) as refused:
        summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026, reason="再报一次")

    assert refused.value.codes == ["summary.unchanged"]
    assert str(refused.value) == "2026年度的汇总已于2026-12-10 09:00报送，此后审批情况没有变化。"
    assert "2026-12-10 09:00" in refused.value.refusals[0].message
    assert list(SummarySubmission.objects.all()) == [first]
    assert SummarySubmission.objects.get().archived_at is None
    assert AuditEntry.objects.filter(action=SUMMARY_SENT_ACTION).count() == 1
    assert Notification.objects.filter(kind__in=[Kind.SUMMARY_RECEIVED, Kind.SUMMARY_CORRECTED]).count() == 1
    assert len(stored_files(settings)) == 1


def test_a_county_bureau_sends_no_summary(bureaus, province, settings):
    county = staff_of(bureaus["county"])
    with at(2026, 12, 10, 9, 0), pytest.raises(RuleViolation) as refused:
        summary_submit(actor=county, bureau=bureaus["county"], scheme="archives", year=2026)

    assert refused.value.codes == ["summary.not_city"]
    assert str(refused.value) == "只有市（州）级主管部门向省级主管部门报送年度审批汇总。"
    nothing_changed(settings)


def test_only_the_citys_own_staff_send_its_summary(bureaus, city, province, settings):
    """Another bureau's staff (the county below, the province above, another city) and the city's approver
    are refused with the permission's message in Chinese."""
    approver = UserFactory()
    permissions.role_grant(user=approver, role=Role.APPROVER, obj=bureaus["city"])
    others = [staff_of(bureaus["county"]), province, staff_of(another_city(bureaus)), approver]
    for other in others:
        with at(2026, 12, 10, 9, 0), pytest.raises(RuleViolation) as refused:
            summary_submit(actor=other, bureau=bureaus["city"], scheme="archives", year=2026)
        assert refused.value.codes == ["permission.denied"]
        assert str(refused.value) == f"只有{bureaus['city'].name}的工作人员可以办理此项操作。"
    nothing_changed(settings)


@pytest.mark.parametrize("year", [2024, 2027, 1])
def test_only_this_years_or_last_years_summary_is_sent(bureaus, city, province, settings, year):
    with at(2026, 12, 10, 9, 0), pytest.raises(RuleViolation) as refused:
        summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=year)

    assert refused.value.codes == ["summary.year_closed"]
    assert str(refused.value) == f"现在不能报送{year}年度的汇总：只能报送本年度或上一年度的汇总。"
    assert refused.value.refusals[0].params == {"year": year}
    nothing_changed(settings)


def test_last_years_summary_may_be_sent_late(bureaus, city, province):
    with at(2027, 1, 8, 9, 0):
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)

    assert (sent.year, sent.sent_at.year) == (2026, 2027)
    assert f"{bureaus['city'].name}2026年" in pdf_text(sent.file.read())


def test_the_database_keeps_one_summary_standing_per_bureau_and_year(bureaus, city, province):
    with at(2026, 12, 10, 9, 0):
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    copy = SummarySubmission(bureau=sent.bureau, scheme=sent.scheme, year=2026, file=sent.file.name, html=sent.html, sha256=sent.sha256,
                             size=sent.size, sent_at=sent.sent_at, sent_by=city)

    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()
    with pytest.raises(HardDeleteRefused):
        sent.delete()


# --- The sweep ----------------------------------------------------------------------------------------------

def test_on_december_21_only_the_city_bureau_that_has_not_sent_is_flagged_overdue(bureaus, city, province):
    other = another_city(bureaus)
    late = another_city(bureaus, n=3)
    with at(2026, 12, 18, 16, 0):
        summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    with at(2026, 1, 8, 9, 0):  # the year before's summary, sent late, does not count for this year
        summary_submit(actor=staff_of(late), bureau=late, scheme="archives", year=2025)

    with at(2026, 12, 21, 1, 0):
        flagged = annual_summary_send(), annual_summary_send()

    assert flagged == (2, 0)
    overdue = Notification.objects.filter(kind=Kind.SUMMARY_OVERDUE)
    assert sorted(overdue.values_list("params__bureau", flat=True)) == sorted([other.name, late.name])
    assert set(overdue.values_list("recipient", flat=True)) == {province.pk}


def test_a_city_bureau_that_sent_before_december_15_is_not_reminded(bureaus, city, province):
    with at(2026, 12, 1, 9, 0):
        assert annual_summary_send() == 1
        summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    with at(2026, 12, 15, 9, 0):
        assert annual_summary_send() == 0

    assert Notification.objects.filter(kind=Kind.SUMMARY_REMINDER).count() == 1


# --- The pages ----------------------------------------------------------------------------------------------

def _state(page: str, row_id: str) -> str:
    return re.search(rf'<tr id="{row_id}" data-state="([a-z-]+)"', page).group(1)


def test_the_city_staff_send_from_the_summaries_page(client, bureaus, city, province):
    send = reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2026])
    with at(2026, 12, 10, 9, 0):
        client.force_login(city)
        before = client.get(reverse("documents:summaries")).content.decode()
        response = client.post(send)
        after = client.get(reverse("documents:summaries")).content.decode()

    assert _state(before, f"sending-{bureaus['city'].pk}-archives-2026") == "not-sent"
    assert f'action="{send}"' in before
    assert f'action="{reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2024])}"' not in before
    assert (response.status_code, response.url) == (302, reverse("documents:summaries"))
    sent = SummarySubmission.objects.get()
    assert _state(after, f"sending-{bureaus['city'].pk}-archives-2026") == "sent"
    assert sent.sha256 in after and "2026-12-10 09:00" in after and str(city) in after
    assert reverse("documents:summary_sent_pdf", args=[sent.pk]) in after
    assert 'name="reason"' in after  # it may be sent again, with a reason
    assert _state(after, f"sending-{bureaus['city'].pk}-archives-2025") == "overdue"
    assert _state(after, f"sending-{bureaus['city'].pk}-archives-2024") == "not-sent"


def test_a_refused_send_shows_the_reason_on_the_page_and_changes_nothing(client, bureaus, city, province, settings):
    with at(2026, 12, 10, 9, 0):
        client.force_login(city)
        client.post(reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2026]))
        again = client.post(reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2026]))

    assert again.status_code == 400
    assert 'class="error" role="alert"' in again.content.decode()
    assert "此后审批情况没有变化" in again.content.decode()
    assert SummarySubmission.objects.count() == 1 and len(stored_files(settings)) == 1


def test_sending_for_another_bureau_answers_404_and_changes_nothing(client, bureaus, city, province, settings):
    approver = UserFactory()
    permissions.role_grant(user=approver, role=Role.APPROVER, obj=bureaus["city"])
    for other in (staff_of(bureaus["county"]), province, staff_of(another_city(bureaus)), approver, UserFactory(),
                  UserFactory(is_superuser=True, is_staff=True)):
        with at(2026, 12, 10, 9, 0):
            client.force_login(other)
            assert client.post(reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2026])).status_code == 404
    client.force_login(city)
    assert client.get(reverse("documents:summary_send", args=[bureaus["city"].pk, "archives", 2026])).status_code == 405
    nothing_changed(settings)


def test_a_county_staff_post_is_refused_on_the_page(client, bureaus, settings):
    with at(2026, 12, 10, 9, 0):
        client.force_login(staff_of(bureaus["county"]))
        response = client.post(reverse("documents:summary_send", args=[bureaus["county"].pk, "archives", 2026]))
        page = client.get(reverse("documents:summaries")).content.decode()

    assert response.status_code == 400
    assert "sending-" not in page and 'name="reason"' not in page
    nothing_changed(settings)


def test_the_sent_copy_downloads_for_the_city_and_the_province_and_answers_404_to_others(client, bureaus, city,
                                                                                        province):
    with at(2026, 12, 10, 9, 0):
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    pdf_url = reverse("documents:summary_sent_pdf", args=[sent.pk])
    html_url = reverse("documents:summary_sent_html", args=[sent.pk])
    auditor = UserFactory()
    permissions.role_grant(user=auditor, role=Role.AUDITOR, obj=bureaus["province"])

    for reader in (city, province, auditor):
        client.force_login(reader)
        response = client.get(pdf_url)
        assert response.status_code == 200
        assert response["X-Content-SHA256"] == sent.sha256 == hashlib.sha256(response.content).hexdigest()
        assert client.get(html_url).content.decode() == sent.html
    for outsider in (staff_of(bureaus["county"]), staff_of(another_city(bureaus)), UserFactory(),
                     UserFactory(is_superuser=True, is_staff=True)):
        client.force_login(outsider)
        assert (client.get(pdf_url).status_code, client.get(html_url).status_code) == (404, 404)
    client.force_login(city)
    assert client.get(reverse("documents:summary_sent_pdf", args=[sent.pk + 1000])).status_code == 404


def test_the_province_page_lists_each_city_sent_or_not_and_flags_overdue_after_december_20(client, bureaus, city,
                                                                                          province):
    other = another_city(bureaus)
    with at(2026, 12, 10, 9, 0):
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)

    with at(2026, 12, 20, 23, 0):
        client.force_login(province)
        on_the_day = client.get(reverse("documents:summaries")).content.decode()
    with at(2026, 12, 21, 0, 30):
        after = client.get(reverse("documents:summaries")).content.decode()

    def cell(page, bureau, year):
        row = re.search(rf'<tr id="received-{bureau.pk}-archives">(.*?)</tr>', page, re.S).group(1)
        return re.search(rf'data-year="{year}" data-state="([a-z-]+)"', row).group(1)

    assert (cell(on_the_day, bureaus["city"], 2026), cell(on_the_day, other, 2026)) == ("sent", "not-sent")
    assert (cell(after, bureaus["city"], 2026), cell(after, other, 2026)) == ("sent", "overdue")
    assert cell(after, other, 2025) == "overdue"  # last year's may still be sent
    assert cell(after, other, 2024) == "not-sent"  # closed: shown, not chased
    assert reverse("documents:summary_sent_pdf", args=[sent.pk]) in after
    assert f'id="received-{bureaus["county"].pk}-' not in after  # only city bureaus send
    assert "sending-" not in after and "summary_send" not in after  # the province sends nothing


@pytest.mark.parametrize("cities", [1, 3])
def test_the_province_page_takes_the_same_queries_for_1_or_3_cities(client, bureaus, province, cities):
    extra = [another_city(bureaus, n=n) for n in range(2, cities + 1)]
    for bureau in [bureaus["city"], *extra]:
        with at(2026, 12, 10, 9, 0):
            summary_submit(actor=staff_of(bureau), bureau=bureau, scheme="archives", year=2026)
    with at(2026, 12, 10, 9, 30):
        client.force_login(province)
        client.get(reverse("documents:summaries"))  # sessions, content types and the like cached
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("documents:summaries")).content.decode()

    assert page.count('data-state="sent"') == cities
    assert len(queries) == 8, [q["sql"] for q in queries]


# --- One summary per scheme ---------------------------------------------------------------------------------

@pytest.fixture
def education(db):
    """The county education scheme of seeds/004 loaded beside the archives scheme: a bureau that names no
    scheme runs both."""
    from certification.scheme import shipped_scheme, shipped_scheme_file
    from certification.services.schemes import scheme_load

    return scheme_load(spec=shipped_scheme("education-county"),
                       source=shipped_scheme_file("education-county").name).version


def test_each_scheme_the_city_runs_has_its_own_summary_in_its_own_words(world, bureaus, city, province,
                                                                          education, client):
    run_case(world)  # an archives case of the county, approved 2026-03-20
    with at(2026, 12, 10, 9, 0):
        archives = summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
        client.force_login(city)
        page = client.get(reverse("documents:summaries")).content.decode()
        # the archives summary sent: the education one is still to send
        sent = summary_submit(actor=city, bureau=bureaus["city"], scheme="education-county", year=2026)

    assert _state(page, f"sending-{bureaus['city'].pk}-archives-2026") == "sent"
    assert _state(page, f"sending-{bureaus['city'].pk}-education-county-2026") == "not-sent"
    assert "县乡人民政府教育工作督导评估" in page
    assert (archives.scheme.code, len(archives.rows)) == ("archives", 1)
    assert (sent.scheme.code, sent.rows) == ("education-county", [])  # the archives case is not the education's
    drawn = pdf_text(sent.file.read())
    assert f"{bureaus['city'].name}2026年教育工作督导评估审批情况汇总表" in drawn
    assert "档案" not in drawn.replace(bureaus["city"].name, "")
    assert SummarySubmission.objects.active().count() == 2  # both stand: one per bureau, scheme and year
    told = Notification.objects.filter(kind=Kind.SUMMARY_RECEIVED).order_by("pk").last()
    assert told.text == f"{bureaus['city'].name}已报送2026年度县乡人民政府教育工作督导评估审批情况汇总（审批0件）。"


def test_a_summary_of_a_scheme_the_bureau_does_not_run_is_refused_and_changes_nothing(
        bureaus, city, province, education, client, settings):
    bureaus["city"].schemes = ["archives"]
    bureaus["city"].save()
    for code in ("education-county", "no-such-scheme"):
        with at(2026, 12, 10, 9, 0), pytest.raises(RuleViolation) as refused:
            summary_submit(actor=city, bureau=bureaus["city"], scheme=code, year=2026)
        assert refused.value.codes == ["summary.scheme_not_run"]
        assert str(refused.value) == f"{bureaus['city'].name}未实施该考评方案。"
    with at(2026, 12, 10, 9, 0):
        client.force_login(city)
        posted = client.post(reverse("documents:summary_send", args=[bureaus["city"].pk, "education-county", 2026]))
        printed = client.get(reverse("documents:summary_pdf", args=[bureaus["city"].pk, "education-county", 2026]))
        page = client.get(reverse("documents:summaries")).content.decode()
    assert posted.status_code == 400 and "未实施该考评方案" in posted.content.decode()
    assert printed.status_code == 404
    assert "education-county" not in page  # the page offers only the schemes the bureau runs
    nothing_changed(settings)


def test_the_sweep_reminds_and_flags_each_scheme_on_its_own(bureaus, city, province, education):
    with at(2026, 12, 1, 9, 0):
        assert annual_summary_send() == 2  # one reminder per scheme the city runs
        summary_submit(actor=city, bureau=bureaus["city"], scheme="archives", year=2026)
    with at(2026, 12, 21, 1, 0):
        assert annual_summary_send() == 1  # only the education summary is overdue

    reminders = Notification.objects.filter(kind=Kind.SUMMARY_REMINDER, recipient=city)
    assert sorted(n.text for n in reminders) == sorted([
        "请于 2026-12-20 前向省级主管部门报送本年度湖北省机关档案工作目标管理等级考评审批情况汇总。",
        "请于 2026-12-20 前向省级主管部门报送本年度县乡人民政府教育工作督导评估审批情况汇总。"])
    overdue = Notification.objects.get(kind=Kind.SUMMARY_OVERDUE)
    assert overdue.recipient == province
    assert "县乡人民政府教育工作督导评估" in overdue.text and "档案" not in overdue.text.replace(bureaus["city"].name, "")
