"""Querysets scoped to what the requesting user may see."""

from __future__ import annotations

from django.db.models import Model, QuerySet


class ScopedQuerysetMixin:
    """A viewset whose rows come from `get_scoped_queryset()` (scoped to the user's warehouses).

    While the schema is generated there is no user; drf-spectacular then only needs the model.
    """

    model: type[Model] | None = None

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        return self.get_scoped_queryset()

    def get_scoped_queryset(self) -> QuerySet:
        raise NotImplementedError
