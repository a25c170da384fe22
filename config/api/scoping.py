"""Querysets scoped to what the requesting user may see."""

from __future__ import annotations

from django.db.models import Model, QuerySet
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.permissions import SAFE_METHODS

from warehouse.models import Warehouse
from warehouse.selectors import list_warehouses_for


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

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # Query-string filters and ordering narrow lists. On one object's URL they can only
        # cost: django-filter builds and validates a form on every scan and confirmation.
        if getattr(self, "detail", False):
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self) -> Model:
        """The object named by the URL, within the user's scope (404 outside it).

        A write leaves out the list's prefetches: the service reads and locks what it changes,
        and the answer is read again after it, so prefetched rows would be read for nothing.
        """
        queryset = self.filter_queryset(self.get_queryset())
        if self.request.method not in SAFE_METHODS:
            queryset = queryset.prefetch_related(None)
        lookup_url_kwarg = self.lookup_url_kwarg or self.lookup_field
        obj = get_object_or_404(queryset, **{self.lookup_field: self.kwargs[lookup_url_kwarg]})
        self.check_object_permissions(self.request, obj)
        return obj


class VisibleWarehouseField(serializers.SlugRelatedField):
    """A warehouse of the requesting user, named by `slug_field` ("code" or "id").

    Any other warehouse, unknown or someone else's, is a 404 (not a 400 field error) raised
    before the rest of the body is judged: a request about a warehouse the user cannot see is
    refused the same way as a URL naming one of its objects, and says nothing about the body.
    Without a request in the serializer's context no warehouse is visible.
    """

    def __init__(self, slug_field: str = "code", **kwargs) -> None:
        kwargs.setdefault("queryset", Warehouse.objects.all())
        super().__init__(slug_field=slug_field, **kwargs)

    def get_queryset(self) -> QuerySet[Warehouse]:
        request = self.context.get("request")
        if request is None:
            return Warehouse.objects.none()
        return list_warehouses_for(request.user)

    def to_internal_value(self, data) -> Warehouse:
        try:
            return self.get_queryset().get(**{self.slug_field: data})
        except (Warehouse.DoesNotExist, TypeError, ValueError):
            raise NotFound(f"No warehouse {data}.") from None


def refuse_warehouse_change(serializer: serializers.Serializer, attrs: dict, noun: str) -> None:
    """An existing row stays in its warehouse: its stock, orders and routes are there.

    Raises ValidationError when an update names another warehouse.
    """
    instance = serializer.instance
    warehouse = attrs.get("warehouse")
    if instance is not None and warehouse is not None and warehouse.pk != instance.warehouse_id:
        raise serializers.ValidationError(
            {"warehouse": [f"A {noun} cannot move to another warehouse."]}
        )
