"""PDF documents from Django templates (WeasyPrint). Fonts: DejaVu (Cyrillic)."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string


def render_pdf(template_name: str, context: dict[str, Any]) -> bytes:
    """Render ``template_name`` (a full HTML page with its own @page CSS) to PDF bytes."""
    from weasyprint import HTML  # imported late: loading Pango takes a moment

    html = render_to_string(template_name, context)
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
