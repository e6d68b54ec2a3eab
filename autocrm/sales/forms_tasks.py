"""Forms of the task pages. They only parse input; the rules live in ``services.tasks``.

Deadlines are entered as a local date and time in the time zone the page is rendered in
(the dealer center's): the view activates that zone while it binds the form, so
``cleaned_data["due_at"]`` is an aware moment.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from autocrm.accounts.roles import GROUP_LEVEL_ROLES
from autocrm.sales.models import TaskPriority

# A deadline given as a day only is due at the end of a usual working day.
DEFAULT_DUE_TIME = time(18, 0)

_INPUT = {"class": "form-control"}
_SELECT = {"class": "form-select"}


def assignee_candidates(*, dealer_center_id: int | None, keep: Any = None) -> QuerySet[Any]:
    """Active employees who see the dealer center: those attached to it and the group-level
    roles (they see every dealer center). Without a dealer center: every active employee.
    ``keep`` (the current assignee) stays a choice even if he no longer fits."""
    users = get_user_model().objects.filter(is_active=True)
    if dealer_center_id is not None:
        sees = (
            Q(dealer_centers=dealer_center_id)
            | Q(roles__code__in=GROUP_LEVEL_ROLES)
            | Q(is_superuser=True)
        )
        if keep is not None:
            sees |= Q(pk=keep.pk)
        users = users.filter(sees)
    ids = users.values("pk")
    return get_user_model().objects.filter(pk__in=ids).order_by("last_name", "first_name", "pk")


class _DueFields(forms.Form):
    due_date = forms.DateField(
        label=_("Due date"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    due_time = forms.TimeField(
        label=_("Time"),
        required=False,
        widget=forms.TimeInput(attrs={**_INPUT, "type": "time"}, format="%H:%M"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        day = data.get("due_date")
        moment = data.get("due_time")
        if day is None and moment is not None:
            self.add_error("due_date", _("Choose the day of the deadline."))
        data["due_at"] = (
            timezone.make_aware(datetime.combine(day, moment or DEFAULT_DUE_TIME))
            if day is not None
            else None
        )
        return data


def due_initial(due_at: datetime | None) -> dict[str, Any]:
    if due_at is None:
        return {}
    local = timezone.localtime(due_at)
    return {"due_date": local.date(), "due_time": local.time().replace(second=0, microsecond=0)}


class TaskForm(_DueFields):
    """The whole task: used to create one and to change it."""

    title = forms.CharField(
        label=_("Title"), max_length=300, widget=forms.TextInput(attrs={**_INPUT})
    )
    description = forms.CharField(
        label=_("Description"),
        required=False,
        max_length=20_000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 3}),
    )
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=None,
        required=False,
        empty_label=_("Nobody yet"),
        widget=forms.Select(attrs=_SELECT),
    )
    priority = forms.TypedChoiceField(
        label=_("Priority"),
        choices=TaskPriority.choices,
        coerce=int,
        initial=TaskPriority.NORMAL,
        widget=forms.Select(attrs=_SELECT),
    )

    field_order = ["title", "description", "assignee", "due_date", "due_time", "priority"]

    def __init__(
        self,
        *args: Any,
        dealer_center_id: int | None,
        keep_assignee: Any = None,
        dealer_centers: QuerySet[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["assignee"]
        field.queryset = assignee_candidates(dealer_center_id=dealer_center_id, keep=keep_assignee)
        field.label_from_instance = lambda user: user.display_name
        if dealer_centers is not None:
            # A task about no deal or client belongs to the dealer center chosen here.
            self.fields["dealer_center"] = forms.ModelChoiceField(
                label=_("Dealer center"),
                queryset=dealer_centers.order_by("name", "pk"),
                required=False,
                empty_label=_("None (the whole group)"),
                initial=dealer_center_id,
                widget=forms.Select(attrs=_SELECT),
            )


class QuickTaskForm(_DueFields):
    """The task panel's one-line form: a title and a deadline."""

    title = forms.CharField(
        label=_("New task"),
        max_length=300,
        widget=forms.TextInput(attrs={**_INPUT, "class": "form-control form-control-sm"}),
    )

    field_order = ["title", "due_date", "due_time"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("due_date", "due_time"):
            self.fields[name].widget.attrs["class"] = "form-control form-control-sm"


class CompleteForm(forms.Form):
    result = forms.CharField(
        label=_("Result"),
        required=False,
        max_length=5000,
        widget=forms.TextInput(attrs={**_INPUT}),
    )


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=5000,
        widget=forms.TextInput(attrs={**_INPUT}),
    )


class CommentForm(forms.Form):
    text = forms.CharField(
        label=_("Comment"),
        max_length=5000,
        widget=forms.Textarea(attrs={**_INPUT, "rows": 2}),
    )


class MonthField(forms.Field):
    """``2026-11`` → the first day of that month (years 1900–2999, so that the grid's
    neighbouring weeks and months never leave the calendar)."""

    default_error_messages = {"invalid": _("Enter a month as YYYY-MM.")}

    def to_python(self, value: Any) -> Any:
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            year_text, month_text = text.split("-")
            year, month = int(year_text), int(month_text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not (1900 <= year <= 2999 and 1 <= month <= 12 and len(year_text) == 4):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return date(year, month, 1)


class ControlFilterForm(forms.Form):
    dealer_center: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("Dealer center"),
        queryset=None,
        required=False,
        empty_label=_("All dealer centers"),
        widget=forms.Select(attrs=_SELECT),
    )
    idle_days = forms.IntegerField(
        label=_("Idle after, days"),
        min_value=1,
        max_value=365,
        required=False,
        widget=forms.NumberInput(attrs={**_INPUT, "inputmode": "numeric"}),
    )
    date_from = forms.DateField(
        label=_("Requests from"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("to"),
        required=False,
        widget=forms.DateInput(attrs={**_INPUT, "type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, dealer_centers: QuerySet[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field: Any = self.fields["dealer_center"]
        field.queryset = dealer_centers.order_by("name", "pk")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end is before the start."))
        for name in ("date_from", "date_to"):
            day = data.get(name)
            if day is not None and not (date(1900, 1, 1) <= day <= date(2999, 12, 31)):
                self.add_error(name, _("Enter a date between 1900 and 2999."))
        return data
