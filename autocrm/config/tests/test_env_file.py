import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from autocrm.config.env import load_env_file


@pytest.fixture
def clean_environ(monkeypatch):
    for name in ("AUTOCRM_TEST_ONE", "AUTOCRM_TEST_TWO"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_env_file_sets_missing_variables_only(tmp_path, clean_environ):
    clean_environ.setenv("AUTOCRM_TEST_TWO", "from-environment")
    path = tmp_path / ".env"
    path.write_text("# comment\n\nAUTOCRM_TEST_ONE='quoted value'\nAUTOCRM_TEST_TWO=from-file\n")

    load_env_file(path)

    assert os.environ["AUTOCRM_TEST_ONE"] == "quoted value"
    assert os.environ["AUTOCRM_TEST_TWO"] == "from-environment"


def test_missing_env_file_is_fine(tmp_path, clean_environ):
    load_env_file(tmp_path / "absent")
    assert "AUTOCRM_TEST_ONE" not in os.environ


def test_malformed_line_names_the_file_and_line(tmp_path, clean_environ):
    path = tmp_path / ".env"
    path.write_text("AUTOCRM_TEST_ONE=1\nthis is not a setting\n")

    with pytest.raises(ImproperlyConfigured, match="line 2"):
        load_env_file(path)
