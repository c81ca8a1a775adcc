"""Issuing a batch of certificates, one task per case (the worker runs it in test_issuing_worker.py): a failure
is reported and the others go on, a redelivered task changes nothing, a case is never issued twice."""

import pytest

from certification.enums import CertificateStatus
from certification.models import Certificate
from certification.selectors import issue_batch_progress
from certification.services.cases import case_issue_certificate
from certification.services.issuing import issue_batch_item_run, issue_batch_start
from tests.factories import CertificateFactory
from tests.worlds import at, make_institution, run_case

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def test_a_batch_issues_each_case_once_and_reports_a_failure_without_stopping(world, archives_version, bureaus,
                                                                             django_capture_on_commit_callbacks):
    institution, people, _experts = world
    cases = [run_case(world)]
    suspended_holder = make_institution(world, "县财政局")
    cases.append(run_case(world, institution=suspended_holder))
    cases.append(run_case(world, institution=make_institution(world, "县教育局")))
    CertificateFactory(institution=suspended_holder, scheme_version=archives_version, grade_code="second",
                       issued_by=bureaus["province"], approved_by=bureaus["county"],
                       status=CertificateStatus.SUSPENDED)
    batch = issue_batch_start(actor=people["officer"], case_ids=[c.pk for c in cases])

    with at(2026, 4, 1, 9, 0):
        for item in batch.items.order_by("id"):
            issue_batch_item_run(item_id=item.pk)
            issue_batch_item_run(item_id=item.pk)  # a redelivered task changes nothing
    progress = issue_batch_progress(batch)

    assert (progress["total"], progress["issued"], progress["failed"], progress["finished"]) == (3, 2, 1, True)
    assert progress["failures"][0].case == cases[1]
    suspended = Certificate.objects.get(institution=suspended_holder, status=CertificateStatus.SUSPENDED)
    assert progress["failures"][0].error == f"该单位的证书{suspended.number}已被暂停。 请先恢复或撤销该证书。"
    assert Certificate.objects.filter(institution=institution).count() == 1


def test_a_case_already_certified_is_not_issued_twice_by_a_batch(world):
    _institution, people, _experts = world
    case = run_case(world)
    batch = issue_batch_start(actor=people["officer"], case_ids=[case.pk])
    with at(2026, 4, 1, 9, 0):
        certificate = case_issue_certificate(actor=people["officer"], case=case)
        item = issue_batch_item_run(item_id=batch.items.get().pk)
    assert (item.status, item.certificate) == ("issued", certificate)
    assert Certificate.objects.filter(institution=case.institution).count() == 1
