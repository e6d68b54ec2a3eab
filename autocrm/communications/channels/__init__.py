"""Channel adapters, one package per kind: ``channels/<kind>/``."""

from __future__ import annotations

from importlib import import_module

from autocrm.communications.channels.base import ChannelAdapter

_adapters: dict[str, ChannelAdapter] = {}


def get_adapter(kind: str) -> ChannelAdapter:
    adapter = _adapters.get(kind)
    if adapter is None:
        module = import_module(f"autocrm.communications.channels.{kind}")
        adapter = module.adapter
        _adapters[kind] = adapter
    return adapter
