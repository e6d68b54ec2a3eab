"""Demo-data steps contributed by apps, run in order by ``seed_demo``.

The accounts app builds the dealer group; apps above it (clients, stock, requests ...)
add their own data on top. Accounts may not import them (the layer rule), so each app
registers a step from its ``demo`` module, and the builder collects them here:
``autodiscover_modules("demo")`` imports ``<app>.demo`` of every installed app, and those
modules call :func:`register_demo_step` at import time.

A step is a callable taking no arguments that creates or repairs its data idempotently
and returns counts (``{"vehicles": 2013}``) for the summary line, or ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

DemoStep = Callable[[], dict[str, int] | None]


@dataclass(frozen=True)
class RegisteredStep:
    order: int
    name: str
    step: DemoStep


_steps: dict[str, RegisteredStep] = {}


def register_demo_step(order: int, step: DemoStep, *, name: str | None = None) -> DemoStep:
    """Add ``step`` to the demo; lower ``order`` runs first (accounts' own data is 0).

    Registering the same name again replaces the step, so re-importing a module is harmless.
    Returns the step, so it can be used as a plain call or wrapped around a function.
    """
    key = name or f"{step.__module__}.{step.__qualname__}"
    _steps[key] = RegisteredStep(order, key, step)
    return step


def discover_demo_steps() -> list[RegisteredStep]:
    """Import every installed app's ``demo`` module, then list the steps in order."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("demo")
    return sorted(_steps.values(), key=lambda registered: (registered.order, registered.name))


def run_demo_steps() -> dict[str, int]:
    """Run every registered step in order; merge the counts they return."""
    counts: dict[str, int] = {}
    for registered in discover_demo_steps():
        counts.update(registered.step() or {})
    return counts
