"""Factories for clients.

``ClientFactory(phones=["8 912 345-67-89"], emails=["Ivan@Example.com"])`` stores the
contacts normalised (E.164, lower-case), the first one primary, and fills ``search_name``
as the services do, so search and duplicate detection see factory-made clients.
"""

from __future__ import annotations

from typing import Any

import factory
from factory.django import DjangoModelFactory

from autocrm.clients.models import Client, ClientEmail, ClientPhone
from autocrm.clients.services import normalize_email, normalize_phone, search_text


class ClientFactory(DjangoModelFactory[Client]):
    class Meta:
        model = Client
        skip_postgeneration_save = True

    last_name = factory.Sequence(lambda n: f"Клиентов{n}")
    first_name = "Пётр"
    search_name = factory.LazyAttribute(
        lambda client: search_text(
            client.last_name,
            client.first_name,
            getattr(client, "middle_name", ""),
            getattr(client, "company_name", ""),
            getattr(client, "inn", ""),
        )
    )

    @factory.post_generation
    def phones(client: Client, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            for i, raw in enumerate(extracted):
                ClientPhone.objects.create(
                    client=client, number=normalize_phone(raw), is_primary=i == 0
                )

    @factory.post_generation
    def emails(client: Client, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            for i, raw in enumerate(extracted):
                ClientEmail.objects.create(
                    client=client, address=normalize_email(raw), is_primary=i == 0
                )
