"""API of the accounts app: who am I, and the reference lists of the group structure."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from autocrm.accounts import selectors
from autocrm.core.api import (
    DETAIL_ERROR_RESPONSES,
    ERROR_RESPONSES,
    ListParams,
    Page,
    get_or_404,
    object_id,
    paginate,
    require_perm,
)

router = Router(tags=["accounts"])


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


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, summary="The calling user")
def me(request: HttpRequest) -> dict[str, Any]:
    """Who the token or session belongs to, with role codes and the dealer centers whose
    data the caller sees (all of them for group-level roles)."""
    user: Any = request.user
    visible = selectors.dealer_center_list(user=user).select_related(None).prefetch_related(None)
    return {
        "id": user.pk,
        "username": user.get_username(),
        "display_name": user.display_name,
        "email": user.email,
        "roles": sorted(user.role_codes()),
        "is_group_level": user.is_group_level,
        "dealer_centers": list(visible.only("id", "name")),
    }


@router.get(
    "/dealer-centers",
    response={200: Page[DealerCenterOut], **ERROR_RESPONSES},
    summary="Dealer centers",
)
def dealer_centers(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.dealer_center_list(user=request.user), params)


@router.get(
    "/dealer-centers/{dealer_center_id}",
    response={200: DealerCenterOut, **DETAIL_ERROR_RESPONSES},
    summary="One dealer center",
)
def dealer_center_detail(request: HttpRequest, dealer_center_id: int = object_id()) -> Any:
    require_perm(request, "accounts.view_structure")
    return get_or_404(selectors.dealer_center_list(user=request.user), pk=dealer_center_id)


@router.get("/cities", response={200: Page[CityOut], **ERROR_RESPONSES}, summary="Cities")
def cities(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.city_list(user=request.user), params)


@router.get("/sites", response={200: Page[SiteOut], **ERROR_RESPONSES}, summary="Sites (площадки)")
def sites(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_structure")
    return paginate(selectors.site_list(user=request.user), params)


@router.get(
    "/sites/{site_id}", response={200: SiteOut, **DETAIL_ERROR_RESPONSES}, summary="One site"
)
def site_detail(request: HttpRequest, site_id: int = object_id()) -> Any:
    require_perm(request, "accounts.view_structure")
    return get_or_404(selectors.site_list(user=request.user), pk=site_id)


@router.get("/users", response={200: Page[UserOut], **ERROR_RESPONSES}, summary="Employees")
def users(request: HttpRequest, params: Query[ListParams]) -> dict[str, Any]:
    require_perm(request, "accounts.view_staff")
    return paginate(selectors.user_list(user=request.user), params)


@router.get(
    "/users/{user_id}", response={200: UserOut, **DETAIL_ERROR_RESPONSES}, summary="One employee"
)
def user_detail(request: HttpRequest, user_id: int = object_id()) -> Any:
    require_perm(request, "accounts.view_staff")
    return get_or_404(selectors.user_list(user=request.user), pk=user_id)
