"""HTTP API of the clients app (docs/api.md)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["clients"])
