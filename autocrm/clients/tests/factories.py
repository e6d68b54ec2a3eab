from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from autocrm.clients.models import Client


class ClientFactory(DjangoModelFactory[Client]):
    class Meta:
        model = Client

    last_name = factory.Sequence(lambda n: f"Клиентов{n}")
    first_name = "Пётр"
