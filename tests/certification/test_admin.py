import pytest
from django.contrib import admin
from django.urls import reverse

from certification.models import Institution
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _certification_models():
    return [m for m in admin.site._registry if m._meta.app_label == "certification"]


def test_every_model_of_the_domain_is_in_the_admin():
    names = {m.__name__ for m in _certification_models()}
    assert names >= {"Region", "Bureau", "Institution", "SafetyIncident", "Expert", "Scheme", "SchemeVersion",
                     "RubricCategory", "RubricItem", "Certificate", "User"}


def test_every_admin_changelist_renders(staff_client, archives_version):
    for model in _certification_models():
        url = reverse(f"admin:certification_{model._meta.model_name}_changelist")
        assert staff_client.get(url).status_code == 200, url


def test_admin_speaks_chinese_by_default(staff_client):
    response = staff_client.get(reverse("admin:index"))
    assert "机关" in response.content.decode()
    assert "主管部门" in response.content.decode()


def test_admin_offers_no_delete(staff_client, regions):
    institution = InstitutionFactory(region=regions["province"])
    url = reverse("admin:certification_institution_delete", args=[institution.pk])
    assert staff_client.post(url, {"post": "yes"}).status_code == 403
    assert Institution.objects.filter(pk=institution.pk).exists()


def test_admin_rejects_an_institution_with_a_bad_credit_code(staff_client, regions):
    url = reverse("admin:certification_institution_add")
    response = staff_client.post(url, {
        "name": "某某局", "uscc": "91350100M000100Y44", "level": "provincial", "region": regions["province"].pk,
        "incidents-TOTAL_FORMS": "0", "incidents-INITIAL_FORMS": "0",
    })
    assert response.status_code == 200
    assert "91350100M000100Y44" in response.content.decode()
    assert not Institution.objects.filter(name="某某局").exists()
