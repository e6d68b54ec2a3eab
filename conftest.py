"""Project-wide pytest fixtures."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest

# Reference data that data migrations create and every installation therefore has.
# Transactional tests (transaction=True) end by flushing every table, migrated rows
# included; restoring them before each database test keeps that invariant for the next
# test, whatever order the tests run in.
_REFERENCE_DATA_MIGRATIONS = [
    "autocrm.accounts.migrations.0002_create_roles",
    "autocrm.inventory.migrations.0002_default_catalog",
]


def _reference_data_creators() -> list[Callable[..., None]]:
    creators = []
    for module_name in _REFERENCE_DATA_MIGRATIONS:
        module = importlib.import_module(module_name)
        operation = module.Migration.operations[0]
        creators.append(operation.code)
    return creators


@pytest.fixture(autouse=True)
def _reference_data(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("django_db") is None:
        return
    request.getfixturevalue("_django_db_marker")  # database access is set up first
    from django.apps import apps

    from autocrm.accounts.models import Role
    from autocrm.inventory.models import LogisticsStatus

    if Role.objects.exists() and LogisticsStatus.objects.exists():
        return
    for create in _reference_data_creators():
        create(apps, None)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: pytest.FixtureRequest) -> None:
    # The production hasher is deliberately slow; tests log in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]
