"""The public notice pages and the objection form: no login, CSRF, rate limit, nothing beyond the notice."""

import datetime as dt

import pytest
import time_machine
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from certification.enums import InstitutionLevel, Kind
from certification.models import Case, Grade, Notice, Objection, Stage
from tests.factories import InstitutionFactory, UserFactory
from tests.worlds import local

pytestmark = pytest.mark.django_db
NOW = local(2026, 9, 3, 10, 0)


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


@pytest.fixture
def notices(archives_version, regions, bureaus):
    def case(name, stage=Stage.NOTICE):
        return Case.objects.create(
            institution=InstitutionFactory(name=name, region=regions["city"], level=InstitutionLevel.CITY,
                                           contact_phone="027-12345678"),
            scheme_version=archives_version, kind=Kind.PROMOTION, year=2026, bureau=bureaus["city"],
            grade=Grade.objects.get(version=archives_version, code="second"), declared_at=NOW,
            declared_by=UserFactory(), reference=f"2026{name}", stage=stage)
    open_notice = Notice.objects.create(bureau=bureaus["city"], title="2026年第二批公示",
                                        published_at=NOW - dt.timedelta(days=2), closes_at=NOW + dt.timedelta(days=6))
    open_notice.cases.set([case("甲局"), case("乙局")])
    closed = Notice.objects.create(bureau=bureaus["city"], title="2026年第一批公示",
                                   published_at=NOW - dt.timedelta(days=30), closes_at=NOW - dt.timedelta(days=20),
                                   closed_at=NOW - dt.timedelta(days=20))
    closed.cases.set([case("丙局", stage=Stage.PANEL)])
    case("丁局")  # waiting, on no notice
    return open_notice, closed


def form(case, **fields):
    return {"case": case.pk, "name": "张三", "contact": "13800000000", "grounds": "该单位档案库房不符合要求",
            **fields}


@time_machine.travel(NOW, tick=False)
def test_open_notices_and_the_archive_list_each_their_own(client, notices):
    open_page = client.get(reverse("notice_list")).content.decode()
    archive = client.get(reverse("notice_archive")).content.decode()
    assert ("2026年第二批公示" in open_page, "2026年第一批公示" in open_page) == (True, False)
    assert ("2026年第二批公示" in archive, "2026年第一批公示" in archive) == (False, True)


@time_machine.travel(NOW, tick=False)
def test_a_notice_shows_its_cases_and_nothing_private(client, notices):
    open_notice, _closed = notices
    page = client.get(reverse("notice_detail", args=[open_notice.pk])).content.decode()
    assert "甲局" in page and "乙局" in page and "省二级" in page
    assert "丁局" not in page
    assert "027-12345678" not in page
    for case in open_notice.cases.all():
        assert case.institution.uscc not in page
        assert case.reference not in page


@time_machine.travel(NOW, tick=False)
def test_an_objection_is_received_with_a_receipt(client, notices):
    open_notice, _closed = notices
    case = open_notice.cases.get(institution__name="甲局")
    response = client.post(reverse("notice_detail", args=[open_notice.pk]), form(case))
    objection = Objection.objects.get()
    assert response.status_code == 200
    assert objection.receipt in response.content.decode()
    assert (objection.case, objection.name, objection.received_at) == (case, "张三", NOW)


@time_machine.travel(NOW, tick=False)
def test_an_objection_without_grounds_is_refused_and_nothing_is_kept(client, notices):
    open_notice, _closed = notices
    response = client.post(reverse("notice_detail", args=[open_notice.pk]),
                           form(open_notice.cases.first(), grounds=""))
    assert response.status_code == 400
    assert "该字段是必填项。" in response.content.decode()
    assert Objection.objects.count() == 0


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("missing", [{"name": ""}, {"contact": ""}, {"name": "", "contact": ""}])
def test_an_objection_without_a_name_or_contact_is_recorded_as_anonymous(client, notices, missing):
    """DESIGN §3.6: anonymous objections are recorded (and may be set aside with a reason), not refused."""
    open_notice, _closed = notices
    case = open_notice.cases.get(institution__name="甲局")
    response = client.post(reverse("notice_detail", args=[open_notice.pk]), form(case, **missing))
    objection = Objection.objects.get()
    page = response.content.decode()
    assert response.status_code == 200
    assert (objection.case, objection.anonymous, objection.status, objection.grounds) == (
        case, True, Objection.Status.RECEIVED, "该单位档案库房不符合要求")
    assert (f"回执号：<strong>{objection.receipt}</strong>。您的异议未留真实姓名或联系方式，已作为匿名异议登记："
            "主管部门将阅处，可能不予受理，且无法将处理结果告知您。") in page
    assert ("乙局" in page, "2026甲局" in page) == (True, False)  # the notice's cases, never a reference


@time_machine.travel(NOW, tick=False)
def test_a_case_not_on_the_notice_cannot_be_objected_to(client, notices):
    open_notice, closed = notices
    response = client.post(reverse("notice_detail", args=[open_notice.pk]), form(closed.cases.get()))
    assert response.status_code == 400
    assert "丙局" not in response.content.decode()
    assert Objection.objects.count() == 0


@time_machine.travel(NOW, tick=False)
def test_a_closed_notice_has_no_form_and_refuses_a_post(client, notices):
    _open, closed = notices
    page = client.get(reverse("notice_detail", args=[closed.pk])).content.decode()
    assert "<form method=\"post\" action=\"/notices/" not in page
    assert "该公示已结束。" in page
    response = client.post(reverse("notice_detail", args=[closed.pk]), form(closed.cases.get()))
    assert (response.status_code, Objection.objects.count()) == (400, 0)


@time_machine.travel(NOW, tick=False)
def test_the_form_needs_its_csrf_token(notices):
    open_notice, _closed = notices
    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("notice_detail", args=[open_notice.pk]), form(open_notice.cases.first()))
    assert (response.status_code, Objection.objects.count()) == (403, 0)


@time_machine.travel(NOW, tick=False)
def test_objections_are_rate_limited_per_address(client, notices):
    open_notice, _closed = notices
    case = open_notice.cases.first()
    codes = [client.post(reverse("notice_detail", args=[open_notice.pk]), form(case)).status_code
             for _ in range(6)]
    assert codes == [200] * 5 + [429]
    assert Objection.objects.count() == 5
    assert "提交的异议过多" in client.post(reverse("notice_detail", args=[open_notice.pk]),
                                         form(case)).content.decode()


@time_machine.travel(NOW, tick=False)
def test_an_unpublished_or_missing_notice_answers_404(client, notices, bureaus):
    future = Notice.objects.create(bureau=bureaus["city"], title="未来", published_at=NOW + dt.timedelta(days=1),
                                   closes_at=NOW + dt.timedelta(days=9))
    assert client.get(reverse("notice_detail", args=[future.pk])).status_code == 404
    assert client.get(reverse("notice_detail", args=[999999])).status_code == 404


@time_machine.travel(NOW, tick=False)
def test_the_pages_work_in_english_too(client, notices):
    open_notice, _closed = notices
    page = client.get(reverse("notice_detail", args=[open_notice.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "File an objection" in page
    assert timezone.now() == NOW


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("contact", ["王五家", "12345", "微信wangwu"])
def test_a_contact_that_is_neither_a_phone_number_nor_an_e_mail_address_is_refused_beside_it(client, notices,
                                                                                              contact):
    open_notice, _closed = notices
    response = client.post(reverse("notice_detail", args=[open_notice.pk]),
                           form(open_notice.cases.first(), contact=contact))
    page = response.content.decode()
    assert response.status_code == 400
    beside = page[page.index('name="contact"'):].split("<label", 1)[0]  # between the field and the next one
    assert "请填写电话号码（手机号码，或带区号的固定电话）或电子邮箱地址。" in beside
    assert Objection.objects.count() == 0
