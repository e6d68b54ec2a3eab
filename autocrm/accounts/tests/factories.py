"""Factories for the group structure and users; later apps' tests build on them."""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from autocrm.accounts.models import (
    ApiToken,
    Brand,
    City,
    Consignor,
    DealerCenter,
    Department,
    DepartmentKind,
    Region,
    Role,
    Site,
    User,
)

TEST_PASSWORD = "correct-horse-battery-staple"


class RegionFactory(DjangoModelFactory[Region]):
    class Meta:
        model = Region
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Region {n}")


class CityFactory(DjangoModelFactory[City]):
    class Meta:
        model = City

    region = factory.SubFactory(RegionFactory)
    name = factory.Sequence(lambda n: f"City {n}")
    time_zone = "Europe/Moscow"


class BrandFactory(DjangoModelFactory[Brand]):
    class Meta:
        model = Brand
        django_get_or_create = ("code",)

    name = factory.Sequence(lambda n: f"Brand {n}")
    code = factory.LazyAttribute(lambda brand: brand.name.lower().replace(" ", "-"))


class DealerCenterFactory(DjangoModelFactory[DealerCenter]):
    class Meta:
        model = DealerCenter

    code = factory.Sequence(lambda n: f"dc-{n}")
    name = factory.Sequence(lambda n: f"Dealer center {n}")
    city = factory.SubFactory(CityFactory)
    address = factory.Sequence(lambda n: f"Street {n}, 1")
    time_zone = "Europe/Moscow"


class SiteFactory(DjangoModelFactory[Site]):
    class Meta:
        model = Site

    name = factory.Sequence(lambda n: f"Site {n}")
    city = factory.LazyAttribute(
        lambda site: site.dealer_center.city if site.dealer_center else CityFactory()
    )
    dealer_center = factory.SubFactory(DealerCenterFactory)


class ConsignorFactory(DjangoModelFactory[Consignor]):
    class Meta:
        model = Consignor

    name = factory.Sequence(lambda n: f"Consignor {n}")


class DepartmentFactory(DjangoModelFactory[Department]):
    class Meta:
        model = Department

    name = factory.Sequence(lambda n: f"Department {n}")
    kind = DepartmentKind.SALES
    dealer_center = factory.SubFactory(DealerCenterFactory)


class UserFactory(DjangoModelFactory[User]):
    """``UserFactory(roles=["sales_manager"], dealer_centers=[dc])``."""

    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Ivan"
    last_name = factory.Sequence(lambda n: f"Petrov{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", TEST_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.roles.set([Role.objects.get_or_create(code=code)[0] for code in extracted])
            self.__dict__.pop("_role_codes", None)

    @factory.post_generation
    def dealer_centers(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.dealer_centers.set(extracted)

    @classmethod
    def _after_postgeneration(cls, instance: User, create: bool, results: Any = None) -> None:
        if create:
            instance.save()


class ApiTokenFactory(DjangoModelFactory[ApiToken]):
    class Meta:
        model = ApiToken

    user = factory.SubFactory(UserFactory)
    prefix = "acrm_test"
    digest = factory.Sequence(lambda n: f"{n:064x}")
