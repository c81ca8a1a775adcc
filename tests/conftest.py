
import pytest

from certification import permissions
from certification.enums import InstitutionLevel, Role
from certification.scheme import shipped_scheme, shipped_scheme_file
from tests.factories import InstitutionFactory, UserFactory, bureau_tree, region_tree
from tests.worlds import build_world, declared_case


@pytest.fixture(autouse=True)
def site_language(settings):
    """Every test starts in the site's language (Chinese): a request made by an earlier test in another
    language leaves that language active in the thread (LocaleMiddleware does not restore it)."""
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def force_login_verifies_the_second_factor(monkeypatch):
    """``client.force_login`` of a privileged user also verifies their second factor (see tests/signin.py):
    tests of other features need no code; the second factor's own tests sign in through the forms."""
    from django.test import Client

    from tests.signin import force_login_verified

    monkeypatch.setattr(Client, "force_login", force_login_verified)


def archives_spec():
    """The shipped archives scheme file, parsed once per test run (a parsed scheme is frozen)."""
    return shipped_scheme("archives")


@pytest.fixture
def archives_version(db):
    """The shipped archives scheme, loaded into the database as a version."""
    from certification.services.schemes import scheme_load

    return scheme_load(spec=archives_spec(), source=shipped_scheme_file("archives").name).version


@pytest.fixture
def regions(db):
    return region_tree()


@pytest.fixture
def bureaus(regions):
    return bureau_tree(regions)


@pytest.fixture
def province_officer(bureaus):
    """A certificate officer of the province (user name ``officer``)."""
    user = UserFactory(username="officer")
    permissions.role_grant(user=user, role=Role.CERTIFICATE_OFFICER, obj=bureaus["province"])
    return user


@pytest.fixture
def media(settings, tmp_path):
    """Uploads and stored documents go to the test's own directory (a ``pathlib.Path``)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def world(archives_version, regions, bureaus):
    """The county institution, its people and four experts: see ``tests.worlds.build_world``."""
    return build_world(regions=regions, bureaus=bureaus)


@pytest.fixture
def make_case(archives_version, regions, bureaus):
    """``make(name="县财政局", region="county", bureau="county")``: a new institution of that region with its own
    applicant user, and a case it has just declared to that bureau (``tests.worlds.declared_case``). Returns
    (case, applicant)."""
    def make(name="县财政局", region="county", bureau="county"):
        institution = InstitutionFactory(name=name, region=regions[region], level=InstitutionLevel.COUNTY)
        applicant = UserFactory()
        permissions.role_grant(user=applicant, role=Role.APPLICANT, obj=institution)
        case = declared_case(version=archives_version, institution=institution, bureau=bureaus[bureau],
                             declared_by=applicant)
        return case, applicant
    return make
