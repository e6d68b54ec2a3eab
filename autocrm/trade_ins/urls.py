"""Pages and htmx partials (being built)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "trade_ins"

urlpatterns: list[URLPattern] = []
