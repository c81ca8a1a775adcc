"""Declaring, as the walk found it: outside the window the blank form says so before anything is typed and names
the bureau to ask for a late inclusion; a refused declaration keeps every file chosen."""

import re

import pytest
from django.urls import reverse

from certification.models import Case
from tests.worlds import all_conditions, at

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media")]


def test_outside_the_window_the_blank_form_says_so_and_names_the_bureau_to_ask(client, world):
    _institution, people, _experts = world
    client.force_login(people["applicant"])
    with at(2026, 11, 2, 9, 0):
        page = client.get(reverse("declare")).content.decode()
    closed = page[page.index('id="window-closed"'):][:3000]
    assert "今天不在申报期内" in closed and "县档案局" in closed
    with at(2026, 2, 1, 9, 0):
        assert 'id="window-closed"' not in client.get(reverse("declare")).content.decode()


def test_a_refused_declaration_keeps_the_files_and_a_second_post_declares_with_them(client, world):
    institution, people, _experts = world
    client.force_login(people["applicant"])
    answers, evidence = all_conditions()
    data = {"institution": institution.pk, "grade": "second", "kind": "promotion"}
    data.update({f"answer_{c}": a for c, a in answers.items() if c != "registration"})  # one answer missing
    with at(2026, 2, 1, 9, 0):
        refused = client.post(reverse("declare"), {**data, **{f"evidence_{c}": f for c, f in evidence.items()}})
        page = refused.content.decode()
        assert refused.status_code == 200 and not Case.objects.exists()
        tokens = dict(re.findall(r'name="(held_evidence_[a-z_]+)" value="([^"]+)"', page))
        assert sorted(tokens) == sorted(f"held_evidence_{c}" for c in evidence)
        assert "已保留上次提交的文件：registration.pdf" in page
        declared = client.post(reverse("declare"), {**data, "answer_registration": "yes", **tokens})
    assert declared.status_code == 302, declared.content.decode()[:2000]
    case = Case.objects.get()
    assert sorted(row.code for row in case.prerequisites.exclude(evidence="")) == sorted(evidence)
    assert case.prerequisites.get(code="registration").evidence.read().startswith(b"%PDF")


def test_a_token_of_another_user_opens_nothing(client, world):
    from tests.factories import UserFactory

    institution, people, _experts = world
    client.force_login(people["applicant"])
    answers, evidence = all_conditions()
    data = {"institution": institution.pk, "grade": "second", "kind": "promotion"}
    with at(2026, 2, 1, 9, 0):
        page = client.post(reverse("declare"), {**data, **{f"evidence_{c}": f for c, f in evidence.items()}})
        tokens = dict(re.findall(r'name="(held_evidence_[a-z_]+)" value="([^"]+)"', page.content.decode()))
        other = UserFactory()
        from certification import permissions
        from certification.enums import Role

        permissions.role_grant(user=other, role=Role.APPLICANT, obj=institution)
        client.force_login(other)
        again = client.post(reverse("declare"), {**data, **{f"answer_{c}": a for c, a in answers.items()}, **tokens})
    assert again.status_code == 200 and not Case.objects.exists()
