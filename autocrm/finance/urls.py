"""Pages and htmx partials (being built)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "finance"

urlpatterns: list[URLPattern] = []
