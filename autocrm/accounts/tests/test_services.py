import pytest

from autocrm.accounts import services
from autocrm.accounts.models import User
from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from autocrm.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_user():
    return UserFactory(username="boss", roles=[RoleCode.ADMINISTRATOR])


def test_user_create_sets_roles_dealer_centers_and_history(admin_user):
    murmansk = DealerCenterFactory()
    user = services.user_create(
        actor=admin_user,
        username="manager1",
        password="a-long-enough-password",
        first_name="Анна",
        last_name="Смирнова",
        roles=[RoleCode.SALES_MANAGER, RoleCode.HOSTESS],
        dealer_centers=[murmansk],
    )

    user.refresh_from_db()
    assert user.check_password("a-long-enough-password")
    assert user.role_codes() == {RoleCode.SALES_MANAGER, RoleCode.HOSTESS}
    assert list(user.dealer_centers.all()) == [murmansk]
    assert user.is_staff is False
    assert user.display_name == "Смирнова Анна"
    created = user.history.earliest()
    assert created.history_type == "+"
    assert created.history_user == admin_user


def test_administrators_get_admin_site_access(admin_user):
    user = services.user_create(
        actor=admin_user,
        username="admin2",
        password="a-long-enough-password",
        roles=["administrator"],
    )
    assert user.is_staff is True
    services.user_set_roles(actor=admin_user, user=user, roles=[RoleCode.LAWYER])
    user.refresh_from_db()
    assert user.is_staff is False
    assert user.role_codes() == {RoleCode.LAWYER}


@pytest.mark.parametrize(
    ("password", "fragment"),
    [
        ("short-pass1", "12"),  # 11 characters
        ("123456789012345", "цифр"),  # messages are in Russian, the default language
        ("password1234", "распространён"),
    ],
)
def test_weak_passwords_are_refused_and_nothing_is_created(admin_user, password, fragment):
    with pytest.raises(ValidationFailed) as error:
        services.user_create(actor=admin_user, username="weak", password=password)

    assert error.value.field == "password"
    assert fragment in str(error.value.message)
    assert not User.objects.filter(username="weak").exists()


def test_twelve_character_password_is_accepted(admin_user):
    user = services.user_create(actor=admin_user, username="ok", password="xk2-Lq9-vRt4")
    assert user.pk is not None


def test_duplicate_username_is_refused_case_insensitively(admin_user):
    UserFactory(username="ivanov")
    with pytest.raises(ValidationFailed) as error:
        services.user_create(actor=admin_user, username="IVANOV", password="a-long-enough-password")
    assert error.value.field == "username"
    assert User.objects.filter(username__iexact="ivanov").count() == 1


def test_unknown_role_is_refused(admin_user):
    with pytest.raises(ValidationFailed) as error:
        services.user_create(
            actor=admin_user, username="x1", password="a-long-enough-password", roles=["pilot"]
        )
    assert error.value.field == "roles"
    assert "pilot" in error.value.message
    assert not User.objects.filter(username="x1").exists()


def test_set_dealer_centers_changes_scope(admin_user):
    first, second = DealerCenterFactory(), DealerCenterFactory()
    user = UserFactory(dealer_centers=[first])
    from autocrm.accounts.scoping import visible_dealer_center_ids

    assert visible_dealer_center_ids(user) == {first.pk}
    services.user_set_dealer_centers(actor=admin_user, user=user, dealer_centers=[second])
    assert visible_dealer_center_ids(user) == {second.pk}
    assert list(user.dealer_centers.all()) == [second]


def test_update_profile_records_only_real_changes(admin_user):
    user = UserFactory(first_name="Иван")
    before = user.history.count()

    assert services.user_update_profile(actor=admin_user, user=user, first_name="Иван") == []
    assert user.history.count() == before

    changed = services.user_update_profile(actor=admin_user, user=user, first_name="Пётр")
    assert changed == ["first_name"]
    assert user.history.count() == before + 1
    assert user.history.latest().history_user == admin_user


def test_update_profile_refuses_unknown_fields(admin_user):
    user = UserFactory()
    with pytest.raises(ValidationFailed) as error:
        services.user_update_profile(actor=admin_user, user=user, password="x")
    assert error.value.field == "password"


def test_superuser_flag_gives_admin_site_access(admin_user):
    user = UserFactory()
    services.user_update_profile(actor=admin_user, user=user, is_superuser=True)
    user.refresh_from_db()
    assert user.is_superuser
    assert user.is_staff


def test_set_password_validates_length(admin_user):
    user = UserFactory()
    with pytest.raises(ValidationFailed) as error:
        services.user_set_password(actor=admin_user, user=user, password="short")
    assert error.value.field == "password"
    user.refresh_from_db()
    assert not user.check_password("short")
    services.user_set_password(actor=admin_user, user=user, password="a-much-longer-secret")
    user.refresh_from_db()
    assert user.check_password("a-much-longer-secret")
