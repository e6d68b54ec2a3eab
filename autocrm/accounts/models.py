"""Dealer-group structure, users, roles and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from autocrm.accounts.roles import GROUP_LEVEL_ROLES, RoleCode
from autocrm.core.audit import audit_history
from autocrm.core.models import TimeStampedModel
from autocrm.core.timezones import validate_time_zone


class Region(TimeStampedModel):
    name = models.CharField(_("name"), max_length=150, unique=True)
    code = models.CharField(
        _("code"),
        max_length=10,
        blank=True,
        help_text=_("Region code, e.g. 51 for Murmansk oblast."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name


class City(TimeStampedModel):
    region = models.ForeignKey(
        Region, models.PROTECT, related_name="cities", verbose_name=_("region")
    )
    name = models.CharField(_("name"), max_length=150)
    time_zone = models.CharField(
        _("time zone"), max_length=64, default="Europe/Moscow", validators=[validate_time_zone]
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "name"], name="accounts_city_region_name_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Brand(TimeStampedModel):
    """A car make the group sells (Chery, Haval ...). Inventory's catalog builds on it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.SlugField(_("code"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("brand")
        verbose_name_plural = _("brands")

    def __str__(self) -> str:
        return self.name


class DealerCenter(TimeStampedModel):
    code = models.SlugField(_("code"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=200, unique=True)
    city = models.ForeignKey(
        City, models.PROTECT, related_name="dealer_centers", verbose_name=_("city")
    )
    address = models.CharField(_("address"), max_length=300)
    brands = models.ManyToManyField(
        Brand, related_name="dealer_centers", blank=True, verbose_name=_("brands sold")
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="Europe/Moscow",
        validators=[validate_time_zone],
        help_text=_("IANA name, e.g. Europe/Moscow; used for working hours and deadlines."),
    )
    phone = PhoneNumberField(_("phone"), blank=True, region="RU")
    email = models.EmailField(_("e-mail"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    history = audit_history(m2m_fields=[brands])

    class Meta:
        ordering = ["city__name", "name"]
        verbose_name = _("dealer center")
        verbose_name_plural = _("dealer centers")

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WorkingHours(models.Model):
    """Opening hours of a dealer center for one weekday, in its own time zone.

    A weekday without a row is a day off. Deadlines and SLAs count only these hours.
    """

    dealer_center = models.ForeignKey(
        DealerCenter, models.CASCADE, related_name="working_hours", verbose_name=_("dealer center")
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens_at = models.TimeField(_("opens at"))
    closes_at = models.TimeField(_("closes at"))

    class Meta:
        ordering = ["dealer_center", "weekday"]
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer_center", "weekday"], name="accounts_workinghours_day_unique"
            ),
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")),
                name="accounts_workinghours_opens_before_closes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class DayOff(models.Model):
    """A date on which a dealer center (or, when empty, the whole group) does not work:
    public holidays such as the January break. Deadlines and SLAs skip it."""

    date = models.DateField(_("date"))
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="days_off",
        verbose_name=_("dealer center"),
        help_text=_("Empty: the whole group."),
    )
    name = models.CharField(_("name"), max_length=200, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("day off")
        verbose_name_plural = _("days off")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer_center", "date"], name="accounts_dayoff_dealer_center_date_unique"
            ),
            models.UniqueConstraint(
                fields=["date"],
                condition=Q(dealer_center__isnull=True),
                name="accounts_dayoff_group_date_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%d.%m.%Y} {self.name}".strip()


class SiteKind(models.TextChoices):
    SHOWROOM = "showroom", _("Showroom")
    STORAGE = "storage", _("Storage")
    SHOWROOM_AND_STORAGE = "showroom_storage", _("Showroom and storage")


class Site(TimeStampedModel):
    """A place where cars stand (площадка): a showroom lot or a storage yard."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(
        _("kind"), max_length=20, choices=SiteKind.choices, default=SiteKind.SHOWROOM_AND_STORAGE
    )
    city = models.ForeignKey(City, models.PROTECT, related_name="sites", verbose_name=_("city"))
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("dealer center"),
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    history = audit_history()

    class Meta:
        ordering = ["city__name", "name"]
        verbose_name = _("site")
        verbose_name_plural = _("sites")

    def __str__(self) -> str:
        return self.name


class Consignor(TimeStampedModel):
    """A legal entity that owns stock (консигнатор)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    legal_name = models.CharField(_("full legal name"), max_length=300, blank=True)
    inn = models.CharField(_("INN"), max_length=12, blank=True)
    kpp = models.CharField(_("KPP"), max_length=9, blank=True)
    ogrn = models.CharField(_("OGRN"), max_length=15, blank=True)
    legal_address = models.CharField(_("legal address"), max_length=300, blank=True)
    city = models.ForeignKey(
        City,
        models.PROTECT,
        null=True,
        blank=True,
        related_name="consignors",
        verbose_name=_("city"),
    )
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="consignors",
        verbose_name=_("dealer center"),
    )

    history = audit_history()

    class Meta:
        ordering = ["name"]
        verbose_name = _("consignor")
        verbose_name_plural = _("consignors")

    def __str__(self) -> str:
        return self.name


class DepartmentKind(models.TextChoices):
    CONTACT_CENTER = "contact_center", _("Contact center")
    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")
    LOGISTICS = "logistics", _("Logistics")
    BUY_OUT = "buy_out", _("Buy-out")
    LEGAL = "legal", _("Legal")
    MANAGEMENT = "management", _("Management")


class Department(TimeStampedModel):
    """A department of a dealer center, or of the group when ``dealer_center`` is empty."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=DepartmentKind.choices)
    dealer_center = models.ForeignKey(
        DealerCenter,
        models.CASCADE,
        null=True,
        blank=True,
        related_name="departments",
        verbose_name=_("dealer center"),
    )

    history = audit_history()

    class Meta:
        ordering = ["dealer_center__name", "kind"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [
            models.UniqueConstraint(
                fields=["dealer_center", "kind"], name="accounts_department_dc_kind_unique"
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(dealer_center__isnull=True),
                name="accounts_department_group_kind_unique",
            ),
        ]

    def __str__(self) -> str:
        where = self.dealer_center.name if self.dealer_center is not None else _("group")
        return f"{self.name} ({where})"


class Role(models.Model):
    code = models.CharField(_("code"), max_length=32, unique=True, choices=RoleCode.choices)

    class Meta:
        ordering = ["code"]
        verbose_name = _("role")
        verbose_name_plural = _("roles")

    def __str__(self) -> str:
        return str(self.name)

    @property
    def name(self) -> str:
        return str(RoleCode(self.code).label)

    @property
    def is_group_level(self) -> bool:
        return self.code in GROUP_LEVEL_ROLES


class User(AbstractUser):
    middle_name = models.CharField(_("middle name"), max_length=150, blank=True)
    phone = PhoneNumberField(_("phone"), blank=True, region="RU")
    phone_extension = models.CharField(
        _("phone extension"), max_length=16, blank=True, help_text=_("Internal PBX extension.")
    )
    roles = models.ManyToManyField(Role, related_name="users", blank=True, verbose_name=_("roles"))
    dealer_centers = models.ManyToManyField(
        DealerCenter, related_name="staff", blank=True, verbose_name=_("dealer centers")
    )
    department = models.ForeignKey(
        Department,
        models.SET_NULL,
        null=True,
        blank=True,
        related_name="staff",
        verbose_name=_("department"),
    )

    history = audit_history(
        m2m_fields=[roles, dealer_centers], excluded_fields=["password", "last_login"]
    )

    class Meta(AbstractUser.Meta):  # type: ignore[name-defined]
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        full = " ".join(
            part for part in (self.last_name, self.first_name, self.middle_name) if part
        )
        return full or self.username

    def role_codes(self) -> frozenset[str]:
        """Codes of the user's roles, cached on the instance for the request."""
        cached: frozenset[str] | None = getattr(self, "_role_codes", None)
        if cached is None:
            cached = (
                frozenset(self.roles.values_list("code", flat=True)) if self.pk else frozenset()
            )
            self._role_codes = cached
        return cached

    def has_role(self, *codes: str) -> bool:
        return bool(self.role_codes() & set(codes))

    @property
    def is_group_level(self) -> bool:
        return self.is_superuser or bool(self.role_codes() & GROUP_LEVEL_ROLES)


class ApiToken(TimeStampedModel):
    """A bearer token for integrators. Only a SHA-256 digest of the token is stored."""

    user = models.ForeignKey(
        User, models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(
        _("prefix"),
        max_length=12,
        help_text=_("First characters of the token, to tell tokens apart."),
    )
    digest = models.CharField(_("digest"), max_length=64, unique=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    history = audit_history(excluded_fields=["last_used_at"])

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user.username})"
