"""The shell and the home dashboard: login page, redirects, languages, error pages, and
that rendered HTML keeps to the strict CSP (no inline scripts or styles)."""

import re

import pytest
from django.urls import reverse

from autocrm.accounts.roles import RoleCode
from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory

pytestmark = pytest.mark.django_db

HOME = reverse("core:home")
LOGIN = reverse("login")


@pytest.fixture
def dealer_centers():
    return DealerCenterFactory(name="Chery Murmansk"), DealerCenterFactory(name="Haval Kazan")


def assert_csp_clean(html):
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html), "style attribute"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not url.startswith(("http://", "https://", "//")), f"external resource {url}"


def test_login_page_renders_in_russian_by_default(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ru"' in html
    assert "Вход в AutoCRM" in html
    assert 'name="username"' in html
    assert 'autocomplete="current-password"' in html
    assert_csp_clean(html)


def test_login_page_in_english_after_set_language(client):
    client.post("/i18n/setlang/", {"language": "en", "next": LOGIN})

    html = client.get(LOGIN).content.decode()

    assert '<html lang="en"' in html
    assert "Sign in to AutoCRM" in html


def test_wrong_password_is_shown_on_the_login_page(client):
    UserFactory(username="manager")

    response = client.post(LOGIN, {"username": "manager", "password": "wrong-password"})

    html = response.content.decode()
    assert 'id="login-error"' in html
    assert "введите правильные имя пользователя и пароль" in html


def test_empty_login_marks_the_fields_invalid(client):
    html = client.post(LOGIN, {"username": "", "password": ""}).content.decode()

    assert html.count("is-invalid") == 2
    assert "Обязательное поле." in html


def test_anonymous_home_redirects_to_login(client):
    response = client.get(HOME)

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next=/"


def test_home_shows_greeting_roles_and_dealer_centers(client, dealer_centers):
    murmansk, _ = dealer_centers
    user = UserFactory(first_name="Anna", roles=[RoleCode.SALES_MANAGER], dealer_centers=[murmansk])
    client.force_login(user)

    response = client.get(HOME)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Здравствуйте, Anna!" in html
    assert "Менеджер по продажам" in html
    assert response.context["current_dealer_centers"] == [murmansk]
    assert "Chery Murmansk" in html
    assert "Haval Kazan" not in html
    assert_csp_clean(html)


def test_home_follows_the_switcher(client, dealer_centers):
    _, kazan = dealer_centers
    client.force_login(UserFactory(roles=[RoleCode.MANAGEMENT]))
    assert {dc.name for dc in client.get(HOME).context["current_dealer_centers"]} == {
        "Chery Murmansk",
        "Haval Kazan",
    }

    client.post(reverse("accounts:switch_dealer_center"), {"dealer_center": kazan.pk})

    assert client.get(HOME).context["current_dealer_centers"] == [kazan]


def test_shell_offers_logout_as_a_post_form_and_the_language_switch(client):
    client.force_login(UserFactory(roles=[RoleCode.HOSTESS]))

    html = client.get(HOME).content.decode()

    assert re.search(r'<form method="post" action="/accounts/logout/"', html)
    assert 'action="/i18n/setlang/"' in html
    assert 'name="csrf-token"' in html
    assert "includeIndicatorStyles" in html


def test_logout_by_post_returns_to_login(client):
    client.force_login(UserFactory())

    response = client.post(reverse("logout"))

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302


def test_404_page_keeps_the_shell_for_a_logged_in_user(client):
    client.force_login(UserFactory(roles=[RoleCode.ADMINISTRATOR]))

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    html = response.content.decode()
    assert "Страница не найдена" in html
    assert 'id="nav-modules"' in html


def test_404_page_for_anonymous_has_no_menu(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert 'id="nav-modules"' not in response.content.decode()


def test_every_page_sends_a_strict_csp(client):
    response = client.get(LOGIN)

    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
