"""Form pieces shared by the apps' filter and edit forms."""

from __future__ import annotations

from typing import Any

from django import forms


class NamedChoiceField(forms.ModelChoiceField):
    """Choices labelled by the rows' ``name`` (not ``str()``, which may add a city or a
    code): dealer centers, banks ..."""

    def label_from_instance(self, obj: Any) -> str:
        return str(obj.name)
