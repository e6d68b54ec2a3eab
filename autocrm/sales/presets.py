"""The default pipelines of a dealer group, installed by ``pipelines_install_defaults``
(``seed_demo`` and a fresh installation); administrators edit them in the admin."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from autocrm.sales.models import LossReason, Pipeline, PipelineKind, Stage

# (code, name, is_won, is_lost, requires_vehicle)
_SALE_STAGES = [
    ("new", pgettext_lazy("pipeline stage", "New"), False, False, False),
    ("contact", pgettext_lazy("pipeline stage", "Contact made"), False, False, False),
    ("needs", pgettext_lazy("pipeline stage", "Needs identified"), False, False, False),
    ("test_drive", pgettext_lazy("pipeline stage", "Test drive"), False, False, True),
    ("offer", pgettext_lazy("pipeline stage", "Offer"), False, False, True),
    ("contract", pgettext_lazy("pipeline stage", "Contract"), False, False, True),
    ("won", pgettext_lazy("pipeline stage", "Sold"), True, False, False),
    ("lost", pgettext_lazy("pipeline stage", "Lost"), False, True, False),
]

DEFAULT_PIPELINES = [
    ("new_car", _("New-car sale"), PipelineKind.NEW_CAR, _SALE_STAGES),
    ("used_car", _("Used-car sale"), PipelineKind.USED_CAR, _SALE_STAGES),
    (
        "service",
        _("Service"),
        PipelineKind.SERVICE,
        [
            ("new", pgettext_lazy("pipeline stage", "New"), False, False, False),
            ("booked", pgettext_lazy("pipeline stage", "Booked"), False, False, False),
            ("in_service", pgettext_lazy("pipeline stage", "In service"), False, False, False),
            ("done", pgettext_lazy("pipeline stage", "Done"), True, False, False),
            ("lost", pgettext_lazy("pipeline stage", "Lost"), False, True, False),
        ],
    ),
    (
        "trade_in",
        _("Trade-in and buy-out"),
        PipelineKind.TRADE_IN,
        [
            ("new", pgettext_lazy("pipeline stage", "New"), False, False, False),
            (
                "inspection",
                pgettext_lazy("pipeline stage", "Inspection booked"),
                False,
                False,
                False,
            ),
            ("appraised", pgettext_lazy("pipeline stage", "Appraised"), False, False, False),
            ("negotiation", pgettext_lazy("pipeline stage", "Negotiation"), False, False, False),
            ("bought", pgettext_lazy("pipeline stage", "Bought"), True, False, False),
            ("lost", pgettext_lazy("pipeline stage", "Lost"), False, True, False),
        ],
    ),
]

DEFAULT_LOSS_REASONS = [
    _("Bought elsewhere"),
    _("Price too high"),
    _("Credit declined"),
    _("Changed his mind"),
    _("No answer"),
    _("Car not available"),
]


def pipelines_install_defaults() -> list[Pipeline]:
    """Create the default pipelines, stages and loss reasons that do not exist yet;
    what exists (perhaps edited by an administrator) is left alone."""
    pipelines = []
    with transaction.atomic():
        for position, (code, name, kind, stages) in enumerate(DEFAULT_PIPELINES):
            pipeline, _created = Pipeline.objects.get_or_create(
                code=code, defaults={"name": str(name), "kind": kind, "order": position}
            )
            for order, (stage_code, stage_name, is_won, is_lost, needs_vehicle) in enumerate(
                stages
            ):
                Stage.objects.get_or_create(
                    pipeline=pipeline,
                    code=stage_code,
                    defaults={
                        "name": str(stage_name),
                        "order": order,
                        "is_won": is_won,
                        "is_lost": is_lost,
                        "requires_vehicle": needs_vehicle and kind != PipelineKind.SERVICE,
                        "color": "success" if is_won else "danger" if is_lost else "primary",
                    },
                )
            pipelines.append(pipeline)
        for order, reason in enumerate(DEFAULT_LOSS_REASONS):
            LossReason.objects.get_or_create(
                name=str(reason), pipeline=None, defaults={"order": order}
            )
    return pipelines
