import pytest

from certification.scheme import DEFAULT_SCHEME_FILE, load_scheme_file
from tests.factories import bureau_tree, region_tree
from tests.worlds import build_world


@pytest.fixture
def archives_version(db):
    """The shipped archives scheme, loaded into the database as a version."""
    from certification.services.schemes import scheme_load

    return scheme_load(spec=load_scheme_file(DEFAULT_SCHEME_FILE), source=DEFAULT_SCHEME_FILE.name).version


@pytest.fixture
def regions(db):
    return region_tree()


@pytest.fixture
def bureaus(regions):
    return bureau_tree(regions)


@pytest.fixture
def media(settings, tmp_path):
    """Uploads and stored documents go to the test's own directory (a ``pathlib.Path``)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def world(archives_version, regions, bureaus):
    """The county institution, its people and four experts: see ``tests.worlds.build_world``."""
    return build_world(regions=regions, bureaus=bureaus)
