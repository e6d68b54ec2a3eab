"""API of the accounts app: who am I, and the reference lists of the group structure."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from autocrm.accounts import selectors
from autocrm.core.api import ErrorOut, ListParams, Page, paginate, require_perm

router = Router(tags=["accounts"])

ERRORS: dict[int, type[Schema]] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}


class DealerCenterRef(Schema):
    id: int
    name: str


class RegionOut(Schema):
    id: int
    name: str
    code: str


class CityOut(Schema):
    id: int
    name: str
    time_zone: str
    region: RegionOut


class BrandOut(Schema):
    id: int
    name: str
    code: str


class DealerCenterOut(Schema):
    id: int
    code: str
    name: str
    city: CityOut
    address: str
    time_zone: str
    phone: str
    email: str
    is_active: bool
    brands: list[BrandOut]

    @staticmethod
    def resolve_phone(obj: Any) -> str:
        return str(obj.phone) if obj.phone else ""

    @staticmethod
    def resolve_brands(obj: Any) -> list[Any]:
        return list(obj.brands.all())


class SiteOut(Schema):
    id: int
    name: str
    kind: str
    city: CityOut
    dealer_center: DealerCenterRef | None
    address: str
    is_active: bool


class RoleOut(Schema):
    code: str
    name: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    roles: list[RoleOut]
    dealer_centers: list[DealerCenterRef]

    @staticmethod
    def resolve_roles(obj: Any) -> list[Any]:
        return list(obj.roles.all())

    @staticmethod
    def resolve_dealer_centers(obj: Any) -> list[Any]:
        return list(obj.dealer_centers.all())


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    roles: list[str]
    is_group_level: bool
    dealer_centers: list[DealerCenterRef]


@router.get("/me", response={200: MeOut, **ERRORS}, summary="The calling user")
def me(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "id": user.pk,
        "username": user.get_username(),
        "display_name": user.display_name,  # type: ignore[union-attr]
        "email": user.email,  # type: ignore[union-attr]
        "roles": sorted(user.role_codes()),  # type: ignore[union-attr]
        "is_group_level": user.is_group_level,  # type: ignore[union-attr]
        "dealer_centers": list(selectors.dealer_center_list(user=user).only("id", "name")),
    }


@router.get("/dealer-centers", response={200: Page[DealerCenterOut], **ERRORS}, summary="Dealer centers")
def dealer_centers(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.dealer_center_list(user=request.user), params)


@router.get("/cities", response={200: Page[CityOut], **ERRORS}, summary="Cities")
def cities(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.city_list(user=request.user), params)


@router.get("/sites", response={200: Page[SiteOut], **ERRORS}, summary="Sites (площадки)")
def sites(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.site_list(user=request.user), params)


@router.get("/users", response={200: Page[UserOut], **ERRORS}, summary="Employees")
def users(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_staff")
    return paginate(selectors.user_list(user=request.user), params)
