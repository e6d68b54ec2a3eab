"""The application shell in a real browser: sign-in, navigation by role, scoping of the
dealer-center list, the dealer-center switcher, languages, lockout, logout, tablet layout,
and that pages load nothing from outside the server and break no CSP rule."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from autocrm.accounts.tests.factories import DealerCenterFactory, UserFactory
from e2e.conftest import TABLET

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def dealer_centers():
    return [
        DealerCenterFactory(name="Chery Murmansk", city__name="Murmansk"),
        DealerCenterFactory(name="Haval Arkhangelsk", city__name="Arkhangelsk"),
        DealerCenterFactory(name="Geely Petrozavodsk", city__name="Petrozavodsk"),
    ]


def nav_modules(page: Page) -> list[str]:
    return page.locator("#nav-modules [data-module]").evaluate_all(
        "links => links.map(link => link.dataset.module)"
    )


def dealer_center_rows(page: Page) -> list[str]:
    return page.locator("#dealer-center-table tbody tr td:first-child a").all_inner_texts()


ALL_NAMES = sorted(["Chery Murmansk", "Haval Arkhangelsk", "Geely Petrozavodsk"])


@pytest.mark.parametrize(
    ("role", "expected_modules", "role_label", "sees_all"),
    [
        (
            "administrator",
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "promotions",
                "tasks",
                "control",
                "visit",
                "structure",
                "staff",
                "admin",
            ],
            "Администратор",
            True,
        ),
        (
            "management",
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "promotions",
                "tasks",
                "control",
                "structure",
                "staff",
            ],
            "Руководство группы",
            True,
        ),
        (
            "sales_manager",
            [
                "home",
                "stock",
                "clients",
                "inbox",
                "requests",
                "deals",
                "orders",
                "credit",
                "appraisals",
                "tasks",
                "structure",
            ],
            "Менеджер по продажам",
            False,
        ),
        ("hostess", ["home", "stock", "clients", "tasks", "visit", "structure"], "Хостес", False),
    ],
)
def test_each_role_sees_its_modules_and_its_dealer_centers(
    live_server, page, login, dealer_centers, role, expected_modules, role_label, sees_all
):
    own = dealer_centers[1]
    UserFactory(username=f"{role}-user", first_name="Anna", roles=[role], dealer_centers=[own])

    login(page, f"{role}-user")

    assert nav_modules(page) == expected_modules
    expect(page.locator("#user-roles")).to_have_text(role_label)
    expect(page.locator("h1")).to_have_text("Здравствуйте, Anna!")

    page.click("#nav-modules [data-module=structure]")
    expect(page.locator("h1")).to_have_text("Дилерские центры")
    expected = ALL_NAMES if sees_all else [own.name]
    assert sorted(dealer_center_rows(page)) == expected

    # A page outside the role's permissions is refused, not just hidden from the menu.
    response = page.goto(f"{live_server.url}/structure/staff/")
    assert response is not None
    if "staff" in expected_modules:
        assert response.status == 200
        expect(page.locator("#user-table")).to_contain_text(f"{role}-user")
    else:
        assert response.status == 403
        expect(page.locator("#error-page h1")).to_have_text("Доступ запрещён")
        # The error page keeps the shell so the user can go on working.
        assert nav_modules(page) == expected_modules


def test_dealer_center_detail_is_scoped(live_server, page, login, dealer_centers):
    own, foreign = dealer_centers[0], dealer_centers[1]
    UserFactory(username="manager", roles=["sales_manager"], dealer_centers=[own])
    login(page, "manager")

    page.goto(f"{live_server.url}/structure/dealer-centers/")
    page.click(f'#dealer-center-table a:text("{own.name}")')
    expect(page.locator("h1")).to_contain_text(own.name)
    expect(page.locator("#dealer-center-details")).to_contain_text(own.address)

    response = page.goto(f"{live_server.url}/structure/dealer-centers/{foreign.pk}/")
    assert response is not None
    assert response.status == 404
    expect(page.locator("#error-page h1")).to_have_text("Страница не найдена")


def test_switcher_narrows_the_list_and_back_to_all(live_server, page, login, dealer_centers):
    UserFactory(username="boss", roles=["management"])
    login(page, "boss")
    page.goto(f"{live_server.url}/structure/dealer-centers/")
    assert sorted(dealer_center_rows(page)) == ALL_NAMES
    # app.js submits on change, so the button is hidden.
    expect(page.locator("#dealer-center-switcher [data-autosubmit-button]")).to_be_hidden()

    chosen = dealer_centers[2]
    with page.expect_navigation():
        page.select_option("#dealer-center-select", str(chosen.pk))

    assert page.url == f"{live_server.url}/structure/dealer-centers/"
    assert dealer_center_rows(page) == [chosen.name]
    expect(page.locator("#dealer-center-select")).to_have_value(str(chosen.pk))
    # The choice is kept in the session for the next pages.
    page.click("#nav-modules [data-module=home]")
    expect(page.locator("#home-dealer-centers li")).to_have_count(1)
    expect(page.locator("#home-dealer-centers")).to_contain_text(chosen.name)

    with page.expect_navigation():
        page.select_option("#dealer-center-select", "")
    page.goto(f"{live_server.url}/structure/dealer-centers/")
    assert sorted(dealer_center_rows(page)) == ALL_NAMES


def test_user_of_one_dealer_center_gets_no_switcher(page, login, dealer_centers):
    UserFactory(username="hostess", roles=["hostess"], dealer_centers=[dealer_centers[0]])
    login(page, "hostess")
    expect(page.locator("#dealer-center-switcher")).to_have_count(0)
    expect(page.locator("#dealer-center-current")).to_have_text(dealer_centers[0].name)


def test_language_switch_flips_the_interface(live_server, page, login, dealer_centers):
    UserFactory(username="admin1", roles=["administrator"])
    login(page, "admin1")
    page.goto(f"{live_server.url}/structure/dealer-centers/")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("h1")).to_have_text("Дилерские центры")
    expect(page.locator("#nav-modules")).to_contain_text("Сотрудники")

    with page.expect_navigation():
        page.click("#language-switch button[value=en]")
    # Back on the same page, now in English.
    assert page.url == f"{live_server.url}/structure/dealer-centers/"
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Dealer centers")
    expect(page.locator("#nav-modules")).to_contain_text("Staff")
    expect(page.locator("#user-roles")).to_have_text("Administrator")
    expect(page.locator("#language-switch button[value=en]")).to_have_attribute(
        "aria-pressed", "true"
    )

    with page.expect_navigation():
        page.click("#language-switch button[value=ru]")
    expect(page.locator("h1")).to_have_text("Дилерские центры")
    expect(page.locator("#user-roles")).to_have_text("Администратор")


def test_login_page_is_russian_and_the_chosen_language_sticks(live_server, page):
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("h1")).to_have_text("Вход в AutoCRM")

    with page.expect_navigation():
        page.click("#language-switch button[value=en]")
    expect(page.locator("h1")).to_have_text("Sign in to AutoCRM")
    # The choice is remembered (language cookie), not just applied to one response.
    page.goto(f"{live_server.url}/accounts/login/")
    expect(page.locator("h1")).to_have_text("Sign in to AutoCRM")
    expect(page.locator("#login-form button[type=submit]")).to_have_text("Sign in")


def test_wrong_password_shows_an_error_and_five_lock_the_account(live_server, page, login):
    UserFactory(username="victim", roles=["sales_manager"])
    page.goto(f"{live_server.url}/accounts/login/")
    for attempt in range(1, 5):
        page.fill("#id_username", "victim")
        page.fill("#id_password", f"wrong-password-{attempt}")
        page.click("#login-form button[type=submit]")
        expect(page.locator("#login-error")).to_contain_text(
            "Пожалуйста, введите правильные имя пользователя и пароль"
        )
        expect(page.locator("#id_username")).to_have_value("victim")

    page.fill("#id_password", "wrong-password-5")
    page.click("#login-form button[type=submit]")
    expect(page.locator("#locked-out h1")).to_have_text("Учётная запись временно заблокирована")
    expect(page.locator("#locked-out")).to_contain_text("15 минут")

    # Even the right password is refused while the lock holds.
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "victim")
    from autocrm.accounts.tests.factories import TEST_PASSWORD

    page.fill("#id_password", TEST_PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page.locator("#locked-out")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/accounts/login/")


def test_logout_ends_the_session(live_server, page, login):
    UserFactory(username="leaver", roles=["lawyer"])
    login(page, "leaver")
    with page.expect_navigation():
        page.click("#logout-form button")
    assert page.url.startswith(f"{live_server.url}/accounts/login/")
    expect(page.locator("#login-form")).to_be_visible()

    page.goto(f"{live_server.url}/structure/dealer-centers/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/structure/dealer-centers/"


def test_tablet_layout_has_no_horizontal_scroll_and_a_working_menu(
    live_server, new_context, login, dealer_centers
):
    UserFactory(username="tablet", roles=["administrator"], last_name="Konstantinopolskaya")
    page = new_context(viewport=TABLET).new_page()
    login(page, "tablet")

    for path in (
        "/",
        "/structure/dealer-centers/",
        f"/structure/dealer-centers/{dealer_centers[0].pk}/",
        "/structure/staff/",
    ):
        page.goto(f"{live_server.url}{path}")
        overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"

    toggler = page.locator(".navbar-toggler")
    menu = page.locator("#app-navbar-menu")
    expect(toggler).to_be_visible()
    expect(menu).to_be_hidden()
    toggler.click()
    expect(menu).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#logout-form button")).to_be_visible()
    expect(page.locator("#dealer-center-select")).to_be_visible()
    overflow = page.evaluate("() => document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0

    page.click("#nav-modules [data-module=staff]")
    expect(page.locator("h1")).to_have_text("Сотрудники")
    expect(menu).to_be_hidden()

    # The rest of the tablet range, portrait to landscape, and a small laptop.
    for width, height in ((768, 1024), (1024, 768), (1280, 800)):
        page.set_viewport_size({"width": width, "height": height})
        for path in ("/", "/structure/dealer-centers/", "/structure/staff/"):
            page.goto(f"{live_server.url}{path}")
            overflow = page.evaluate(
                "() => document.scrollingElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path} at {width}px scrolls sideways by {overflow}px"


def test_pages_load_only_from_the_server_and_respect_the_csp(
    live_server, page, login, watch, dealer_centers
):
    UserFactory(username="auditor", roles=["administrator"])
    login(page, "auditor")
    for path in (
        "/",
        "/structure/dealer-centers/",
        f"/structure/dealer-centers/{dealer_centers[0].pk}/",
        "/structure/staff/",
        "/structure/dealer-centers/999999/",
    ):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")

    # The watch saw the vendored assets, so the checks below are not vacuous.
    assert any(
        re.search(r"/static/vendor/bootstrap/css/bootstrap\.min\.css$", url)
        for url in watch.requests
    )
    assert any(url.endswith("/static/vendor/htmx/htmx.min.js") for url in watch.requests)
    assert watch.foreign_requests() == []
    assert watch.csp_violations == []

    # htmx is loaded, injects no <style> (the CSP would refuse it) and sends the CSRF token:
    # a POST with a bad value reaches the view (400) instead of failing CSRF (403).
    assert page.evaluate("() => window.htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0
    status = page.evaluate(
        """() => new Promise((resolve) => {
            document.body.addEventListener(
                "htmx:afterRequest", (event) => resolve(event.detail.xhr.status), {once: true}
            );
            window.htmx.ajax("POST", "/structure/switch-dealer-center/", {
                target: "body", swap: "none", values: {dealer_center: "abc"},
            });
        })"""
    )
    assert status == 400
