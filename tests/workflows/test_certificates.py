"""The document downloads and the certificate officer's pages: every URL that names an object answers 404
to anyone else; bad input gets a Chinese error and changes nothing."""

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from certification import permissions
from certification.enums import BureauLevel, CertificateStatus, RegionLevel, Role
from certification.models import AuditEntry, Certificate, IssueBatch, IssuedDocument, Stage
from certification.services.cases import case_issue_certificate
from certification.services.issuing import issue_batch_start
from certification.services.summaries import summary_submit
from tests.factories import BureauFactory, InstitutionFactory, RegionFactory, UserFactory
from tests.worlds import PDF, approved_cases, at, page_errors, run_case

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def _named_urls(namespace):
    for pattern in get_resolver().url_patterns:
        if isinstance(pattern, URLResolver) and pattern.namespace == namespace:
            for sub in pattern.url_patterns:
                yield f"{namespace}:{sub.name}", str(sub.pattern)


def object_urls():
    """Every URL of the documents and certificates pages that names an object: a new one cannot escape."""
    return [(name, route) for ns in ("documents", "certificates") for name, route in _named_urls(ns)
            if re.search(r"<int:(pk|bureau)>", route)]


@pytest.fixture
def issued(world, django_capture_on_commit_callbacks):
    _institution, people, _experts = world
    case = run_case(world)
    with at(2026, 4, 1, 9, 0), django_capture_on_commit_callbacks(execute=True):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
    batch = IssueBatch.objects.create(created_by=people["officer"])
    return case, certificate, batch


def _args(name, route, case, certificate, batch, bureau, summary):
    kwargs = {}
    if "<int:pk>" in route:
        kwargs["pk"] = {"certificates:batch": batch.pk, "documents:summary_sent_pdf": summary.pk,
                        "documents:summary_sent_html": summary.pk}.get(
            name, case.pk if name.startswith("documents:") else certificate.pk)
    if "<slug:kind>" in route:
        kwargs["kind"] = "application_form"
    if name == "documents:case_evidence":  # a condition's evidence the applicant uploaded
        kwargs.update(kind="condition", item=case.prerequisites.exclude(evidence="").order_by("pk").first().pk)
    if "<int:bureau>" in route:
        kwargs.update(bureau=bureau.pk, year=2026)
    if "<slug:scheme>" in route:
        kwargs["scheme"] = case.scheme.code
    return reverse(name, kwargs=kwargs)


def test_every_document_and_certificate_url_answers_404_to_anyone_else(client, world, issued, bureaus, regions):
    case, certificate, batch = issued
    _institution, people, _experts = world
    other_applicant = UserFactory()
    permissions.role_grant(user=other_applicant, role=Role.APPLICANT, obj=InstitutionFactory(region=regions["city"]))
    # a sibling county's staff (the city's own staff read the county's case and certificate: see below)
    sibling = BureauFactory(region=RegionFactory(name="邻县", code="420103", level=RegionLevel.COUNTY,
                                                 parent=regions["city"]), level=BureauLevel.COUNTY, parent=bureaus["city"])
    other_staff = UserFactory()
    permissions.role_grant(user=other_staff, role=Role.BUREAU_STAFF, obj=sibling)
    outsiders = [other_applicant, other_staff, UserFactory(), UserFactory(is_superuser=True, is_staff=True)]
    # a summary another city bureau sent the province (the city's staff are outsiders to it)
    second_city = BureauFactory(region=RegionFactory(name="二市", code="420200", level=RegionLevel.CITY,
                                                     parent=regions["province"]),
                                level=BureauLevel.CITY, parent=bureaus["province"])
    second_city_staff = UserFactory()
    permissions.role_grant(user=second_city_staff, role=Role.BUREAU_STAFF, obj=second_city)
    summary = summary_submit(actor=second_city_staff, bureau=second_city, scheme="archives", year=timezone.localdate().year)
    urls = object_urls()
    assert {name for name, _r in urls} == {
        "documents:case_documents", "documents:case_document_html", "documents:case_document_pdf", "documents:case_archive",
        "documents:summary_pdf", "documents:summary_xlsx", "documents:summary_send", "documents:summary_sent_pdf",
        "documents:summary_sent_html", "certificates:batch", "certificates:detail", "certificates:pdf",
        "certificates:transition", "certificates:scan", "certificates:credential", "documents:case_evidence"}
    certificate.scan.save("scan.pdf", ContentFile(PDF))  # as a certificate registered from paper has
    for name, route in urls:
        url = _args(name, route, case, certificate, batch, bureaus["county"], summary)
        method = client.post if name in ("certificates:transition", "documents:summary_send") else client.get
        for outsider in outsiders:
            client.force_login(outsider)
            assert method(url).status_code == 404, (name, outsider)
        insider = (people["officer"] if name.startswith("certificates:")
                   else second_city_staff if name.startswith("documents:summary_sent") else people["staff"])
        client.force_login(insider)
        # 400: an empty transition form; a county bureau's summary, which is not sent to the province
        assert method(url).status_code in (200, 400), name
    # The city's staff read the county's documents and certificate (第九条, 第十二条) and change nothing.
    reader = UserFactory()
    permissions.role_grant(user=reader, role=Role.BUREAU_STAFF, obj=bureaus["city"])
    client.force_login(reader)
    assert client.get(reverse("documents:case_documents", args=[case.pk])).status_code == 200
    assert client.get(reverse("certificates:detail", args=[certificate.pk])).status_code == 200
    assert client.get(reverse("documents:case_archive", args=[case.pk])).status_code == 404
    assert client.post(reverse("certificates:transition", args=[certificate.pk]),
                       {"transition": "revoke", "reason": "越权"}).status_code == 404
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.IN_FORCE


def test_a_frozen_document_is_served_from_its_stored_file_with_its_hash(client, world, issued):
    case, _certificate, _batch = issued
    _institution, people, _experts = world
    stored = IssuedDocument.objects.get(case=case, kind="application_form")
    client.force_login(people["applicant"])

    response = client.get(reverse("documents:case_document_pdf", args=[case.pk, "application_form"]))
    listing = client.get(reverse("documents:case_documents", args=[case.pk])).content.decode()
    html = client.get(reverse("documents:case_document_html", args=[case.pk, "application_form"]))

    stored.refresh_from_db()  # drawn by that download: no worker ran, and the worker's grace is long past
    assert response.content == stored.file.read()
    assert response["X-Content-SHA256"] == stored.sha256
    assert stored.sha256 in listing and "申报审批表" in listing and "确认函" in listing
    assert html.content.decode() == stored.html


def test_a_document_not_drawn_yet_is_being_prepared_then_drawn_by_a_late_download(client, world):
    _institution, people, _experts = world
    case = run_case(world)  # approved at 2026-03-20 10:00; no worker draws the PDFs here
    pdf_url = reverse("documents:case_document_pdf", args=[case.pk, "application_form"])
    client.force_login(people["applicant"])

    with at(2026, 3, 20, 10, 0, 5):
        early = client.get(pdf_url)
        client.force_login(people["staff"])
        archive = client.get(reverse("documents:case_archive", args=[case.pk]))
        client.force_login(people["applicant"])
    with at(2026, 3, 20, 10, 1, 0):
        late = client.get(pdf_url)
        again = client.get(pdf_url)

    page = early.content.decode()
    assert (early.status_code, early["Retry-After"]) == (202, "3")
    assert "文件正在生成" in page and 'http-equiv="refresh"' in page and "%PDF" not in page
    assert archive.status_code == 202 and "文件正在生成" in archive.content.decode()
    stored = IssuedDocument.objects.get(case=case, kind="application_form")
    assert late.status_code == 200 and late.content.startswith(b"%PDF-")
    assert late["X-Content-SHA256"] == stored.sha256 and late.content == stored.file.read()
    assert again.content == late.content  # served as stored, not drawn again
    assert IssuedDocument.objects.filter(case=case, drawn_at__isnull=True).count() == 5


def test_a_document_whose_html_or_pdf_no_longer_matches_its_hash_is_never_served(client, world):
    from certification.tasks import document_draw

    _institution, people, _experts = world
    case = run_case(world)
    form = IssuedDocument.objects.get(case=case, kind="application_form")
    document_draw(document_id=form.pk)
    IssuedDocument.objects.filter(pk=form.pk).update(html=form.html.replace("县民政局", "县财政局"))
    letter = IssuedDocument.objects.get(case=case, kind="confirmation_letter")  # not drawn yet
    IssuedDocument.objects.filter(pk=letter.pk).update(html=letter.html + "<p>补充</p>")
    form_pdf = reverse("documents:case_document_pdf", args=[case.pk, "application_form"])
    client.force_login(people["applicant"])

    responses = [client.get(form_pdf),
                 client.get(reverse("documents:case_document_html", args=[case.pk, "application_form"])),
                 client.get(reverse("documents:case_document_pdf", args=[case.pk, "confirmation_letter"]))]
    client.force_login(people["staff"])
    responses.append(client.get(reverse("documents:case_archive", args=[case.pk])))

    for response in responses:
        assert response.status_code == 409
        assert "文件校验未通过" in response.content.decode() and "县财政局" not in response.content.decode()
    letter.refresh_from_db()
    assert letter.drawn_at is None and letter.file.name == ""
    # the PDF itself changed on disk after it was drawn: refused as well
    IssuedDocument.objects.filter(pk=form.pk).update(html=form.html)
    form.refresh_from_db()
    with open(form.file.path, "ab") as stored:
        stored.write(b"%")
    client.force_login(people["applicant"])
    assert client.get(form_pdf).status_code == 409


def test_an_unknown_or_not_yet_printable_document_answers_404(client, world):
    _institution, people, _experts = world
    case = run_case(world, approve=False)
    client.force_login(people["applicant"])
    for kind in ("no_such_kind", "confirmation_letter"):
        assert client.get(reverse("documents:case_document_pdf", args=[case.pk, kind])).status_code == 404
    live = client.get(reverse("documents:case_document_pdf", args=[case.pk, "assessment_form"]))
    assert live.status_code == 200 and live.content.startswith(b"%PDF-") and "X-Content-SHA256" not in live


def test_the_officer_issues_one_from_the_queue(client, world):
    _institution, people, _experts = world
    case = run_case(world)
    client.force_login(people["officer"])
    assert "县民政局" in client.get(reverse("certificates:queue")).content.decode()

    response = client.post(reverse("certificates:queue"), {"cases": [case.pk], "issue": "1"})

    certificate = Certificate.objects.get(institution=case.institution)
    assert response.status_code == 302 and response.url == reverse("certificates:detail", args=[certificate.pk])
    case.refresh_from_db()
    assert case.stage == Stage.CLOSED


def test_a_case_not_in_the_queue_is_refused_in_chinese_and_nothing_starts(client, world):
    _institution, people, _experts = world
    case = run_case(world, approve=False)
    client.force_login(people["officer"])

    response = client.post(reverse("certificates:queue"), {"cases": [case.pk], "batch": "1"})

    assert response.status_code == 400
    assert page_errors(response) == [f"选择一个有效的选项。 {case.pk} 不在可用的选项中。"]
    assert IssueBatch.objects.count() == 0


def test_suspend_needs_a_reason_and_changes_nothing_without_one(client, world, issued):
    _case, certificate, _batch = issued
    _institution, people, _experts = world
    client.force_login(people["officer"])
    url = reverse("certificates:transition", args=[certificate.pk])

    refused = client.post(url, {"transition": "suspend", "reason": "  "})
    made_up = client.post(url, {"transition": "supersede", "reason": "x"})
    done = client.post(url, {"transition": "suspend", "reason": "抽查发现严重问题"})

    assert refused.status_code == 400 and "须填写理由。" in refused.content.decode()
    assert made_up.status_code == 400
    assert done.status_code == 302
    certificate.refresh_from_db()
    assert (certificate.status, certificate.status_reason) == (CertificateStatus.SUSPENDED, "抽查发现严重问题")
    assert AuditEntry.objects.filter(action="certificate.suspend").count() == 1
    reinstated = client.post(url, {"transition": "reinstate", "reason": "整改到位"})
    assert reinstated.status_code == 302
    certificate.refresh_from_db()
    assert certificate.status == CertificateStatus.IN_FORCE
    # the history reads in Chinese, each change with its reason (never an internal action code)
    history = client.get(reverse("certificates:detail", args=[certificate.pk])).content.decode()
    assert "<td>暂停</td><td>抽查发现严重问题</td>" in history and "<td>已恢复</td><td>整改到位</td>" in history
    assert not re.search(r">certificate\.[a-z_]+<", history)


def test_the_holder_sees_its_certificate_but_may_not_change_it(client, world, issued):
    _case, certificate, _batch = issued
    _institution, people, _experts = world
    client.force_login(people["applicant"])

    page = client.get(reverse("certificates:detail", args=[certificate.pk])).content.decode()
    pdf = client.get(reverse("certificates:pdf", args=[certificate.pk]))

    assert certificate.number in page and "transition" not in page
    assert pdf.content.startswith(b"%PDF-")
    assert client.post(reverse("certificates:transition", args=[certificate.pk]),
                       {"transition": "revoke", "reason": "x"}).status_code == 404


def test_the_progress_page_refreshes_itself_until_done_and_shows_each_failure(client, world):
    _institution, people, _experts = world
    case = run_case(world)
    batch = issue_batch_start(actor=people["officer"], case_ids=[case.pk])
    client.force_login(people["officer"])
    running = client.get(reverse("certificates:batch", args=[batch.pk])).content.decode()
    item = batch.items.get()
    type(item).objects.filter(pk=item.pk).update(status="failed", error="证书编号冲突")
    finished = client.get(reverse("certificates:batch", args=[batch.pk])).content.decode()

    assert 'http-equiv="refresh"' in running and "共 1 件，已处理 0 件" in running
    assert 'http-equiv="refresh"' not in finished and "证书编号冲突" in finished


def test_issue_all_with_an_empty_queue_is_refused_in_chinese_and_starts_nothing(client, world):
    _institution, people, _experts = world
    client.force_login(people["officer"])

    response = client.post(reverse("certificates:queue"), {"all": "1"})

    assert response.status_code == 400 and "请至少选择一个案件。" in response.content.decode()
    assert IssueBatch.objects.count() == 0


def test_issue_all_takes_every_waiting_case_and_the_progress_page_shows_them_fifty_at_a_time(
        client, world, archives_version, regions, bureaus):
    _institution, people, _experts = world
    cases = approved_cases(60, version=archives_version, regions=regions, bureaus=bureaus)
    client.force_login(people["officer"])

    queue = client.get(reverse("certificates:queue")).content.decode()
    response = client.post(reverse("certificates:queue"), {"all": "1"})

    assert "颁发全部 60 张待发证书" in queue
    # the queue shows fifty a page (the oldest approvals first); "issue all" takes the sixty
    assert queue.count('name="cases"') == 50 and "第 1 页，共 2 页" in queue
    assert client.get(reverse("certificates:queue"), {"page": 2}).content.decode().count('name="cases"') == 10
    batch = IssueBatch.objects.get()
    assert response.status_code == 302 and response.url == reverse("certificates:batch", args=[batch.pk])
    assert sorted(batch.items.values_list("case", flat=True)) == sorted(c.pk for c in cases)
    first = client.get(response.url).content.decode()
    second = client.get(response.url, {"page": 2}).content.decode()
    assert '<progress max="60" value="0"' in first and "共 60 件，已处理 0 件" in first
    assert "第 1 页，共 2 页" in first and "下一页" in first
    assert first.count("等待中") == 50 and second.count("等待中") == 10
    assert cases[0].reference in first and cases[59].reference in second and cases[59].reference not in first


def test_the_summary_downloads_for_the_bureaus_user(client, world, bureaus):
    _institution, people, _experts = world
    run_case(world)
    client.force_login(people["staff"])
    pdf = client.get(reverse("documents:summary_pdf", args=[bureaus["county"].pk, "archives", 2026]))
    xlsx = client.get(reverse("documents:summary_xlsx", args=[bureaus["county"].pk, "archives", 2026]))
    index = client.get(reverse("documents:summaries")).content.decode()
    assert pdf.content.startswith(b"%PDF-") and xlsx.content.startswith(b"PK")
    assert bureaus["county"].name in index
    assert client.get(reverse("documents:summary_pdf", args=[bureaus["province"].pk, "archives", 2026])).status_code == 404
