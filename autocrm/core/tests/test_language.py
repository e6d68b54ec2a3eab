import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_russian_is_the_default_even_for_an_english_browser(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert response.headers["Content-Language"] == "ru"
    assert 'lang="ru"' in response.content.decode()


@pytest.mark.django_db
def test_the_chosen_language_sticks(client):
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    response = client.get(reverse("login"))

    assert response.headers["Content-Language"] == "en"
    assert 'lang="en"' in response.content.decode()


@pytest.mark.django_db
def test_unknown_language_cookie_falls_back_to_russian(client, settings):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "de"

    response = client.get(reverse("login"))

    assert response.headers["Content-Language"] == "ru"
