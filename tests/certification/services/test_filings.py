"""Filing (备案): approving a recheck assessed below the bureau the scheme names files it there, as a record
written with the approval, and tells that bureau's staff once."""

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.utils import translation

from certification.enums import Kind
from certification.models import AuditEntry, Filing, IssuedDocument
from certification.services.filings import case_file_within
from notifications.kinds import Kind as NotificationKind
from notifications.models import Notification
from tests.factories import CertificateFactory
from tests.worlds import local, run_case, staff_of

pytestmark = pytest.mark.django_db

FILED = ["acceptance_request", "application_form", "assessment_form", "notice_result", "integrity_notice",
         "confirmation_letter"]


@pytest.fixture
def recheck(world, archives_version, bureaus):
    """The county institution's first-grade recheck: assessed by the county, filed with the city. Two city
    staff, one county staff (besides the world's) and one provincial staff exist."""
    institution, _people, _experts = world
    CertificateFactory(institution=institution, scheme_version=archives_version, grade_code="first",
                       issued_by=bureaus["province"], approved_by=bureaus["city"], issued_on=dt.date(2023, 9, 1),
                       valid_until=dt.date(2026, 8, 31))
    city = [staff_of(bureaus["city"], username=f"city{n}", full_name=f"市局{n}") for n in range(2)]
    staff_of(bureaus["county"], username="county-other")
    staff_of(bureaus["province"], username="province-staff")
    return city


def test_an_approved_recheck_is_filed_with_the_city_as_a_record_and_its_staff_are_told_once(world, recheck,
                                                                                            bureaus):
    _institution, people, _experts = world

    case = run_case(world, grade="first", kind=Kind.RECHECK)

    filing = Filing.objects.get()
    frozen = {d.kind: d for d in IssuedDocument.objects.filter(case=case, certificate__isnull=True)}
    assert (filing.case, filing.bureau, filing.filed_at, filing.filed_by) == (
        case, bureaus["city"], local(2026, 3, 20, 10, 0), people["approver"])
    assert filing.documents == [{"id": frozen[k].pk, "kind": k, "number": frozen[k].number,
                                 "sha256": frozen[k].content_sha256} for k in FILED]
    entry = AuditEntry.objects.get(action="case.file")
    assert (entry.target_id, entry.actor, entry.after) == (
        str(case.pk), people["approver"], {"filed_with": bureaus["city"].pk, "filing": filing.pk, "documents": FILED})
    told = Notification.objects.filter(kind=NotificationKind.CASE_FILED)
    assert sorted(told.values_list("recipient_id", flat=True)) == sorted(u.pk for u in recheck)
    with translation.override("en"):
        assert told.first().text == (
            f"The recheck of 县民政局 for 省一级 (case {case.reference}), approved by {bureaus['county'].name}, is "
            f"filed with your bureau with its 6 approval documents.")


def test_a_promotion_is_not_filed_and_nobody_is_told_of_a_filing(world, bureaus):
    staff_of(bureaus["city"], username="city0")

    run_case(world)

    assert Filing.objects.count() == 0
    assert AuditEntry.objects.filter(action="case.file").count() == 0
    assert Notification.objects.filter(kind=NotificationKind.CASE_FILED).count() == 0


def test_filing_again_returns_the_filing_and_records_nothing_more(world, recheck):
    case = run_case(world, grade="first", kind=Kind.RECHECK)
    filing = Filing.objects.get()

    with transaction.atomic():
        again = case_file_within(actor=world[1]["approver"], case=case)

    assert again == filing
    assert (Filing.objects.count(), AuditEntry.objects.filter(action="case.file").count()) == (1, 1)
    assert Notification.objects.filter(kind=NotificationKind.CASE_FILED).count() == 2


def test_the_migration_rebuilds_a_filing_from_the_case_and_its_audit_entry(world, recheck):
    case = run_case(world, grade="first", kind=Kind.RECHECK)
    filing = Filing.objects.values("case", "bureau", "filed_at", "filed_by", "documents").get()
    with connection.cursor() as cursor:  # an installation from before filings were records
        cursor.execute("DELETE FROM certification_filing")
    migration = importlib.import_module("certification.migrations.0024_filings")

    migration.backfill(apps, None)
    migration.backfill(apps, None)

    assert list(Filing.objects.values("case", "bureau", "filed_at", "filed_by", "documents")) == [filing]
    assert Filing.objects.get().case == case
