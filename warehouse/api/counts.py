"""Cycle count API: managers request counts and review variances; counters count blind.

Nothing a counter can call returns an expected figure or a variance: those are only in the
manager's `review` answer.
"""

from __future__ import annotations

import django_filters
from django.db.models import OuterRef, Subquery
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.api.idempotency import IDEMPOTENCY_KEY_REQUIRED, idempotent
from config.api.permissions import RolePermission
from config.api.scoping import ScopedQuerysetMixin, VisibleWarehouseField
from config.api.throttling import SCAN_THROTTLES
from warehouse.counts import selectors, services
from warehouse.models import CountAttempt, CountRequest, Location, Product, Zone
from warehouse.roles import COUNTERS, MANAGER

# --- serializers --------------------------------------------------------------------------------


class CountTaskSerializer(serializers.ModelSerializer):
    """A count request as anyone may see it: where, what, why, and where it is in the process."""

    warehouse = serializers.CharField(source="warehouse.code", read_only=True)
    location = serializers.CharField(source="location.code", read_only=True)
    zone = serializers.CharField(source="location.zone.code", read_only=True)
    product = serializers.CharField(source="product.sku", read_only=True, allow_null=True)
    counting_by = serializers.CharField(read_only=True, allow_null=True)
    abc_class = serializers.CharField(
        read_only=True, help_text="A, B or C on the counting rule's counts; blank on others."
    )

    class Meta:
        model = CountRequest
        fields = [
            "id",
            "warehouse",
            "location",
            "zone",
            "product",
            "reason",
            "status",
            "stage",
            "abc_class",
            "due_date",
            "reference",
            "note",
            "counting_by",
            "created_at",
            "done_at",
        ]
        read_only_fields = fields


class CountedItemSerializer(serializers.Serializer):
    sku = serializers.CharField()
    name = serializers.CharField()
    lot = serializers.CharField()
    counted = serializers.IntegerField()


class CountSheetSerializer(serializers.Serializer):
    """The counter's sheet: the task and what they counted so far (never what is expected)."""

    task = CountTaskSerializer()
    attempt = serializers.IntegerField(help_text="1 for the first count, 2 for a recount, ...")
    counted = CountedItemSerializer(many=True)


class StartCountInput(serializers.Serializer):
    bin = serializers.CharField(max_length=64, help_text="The bin label as scanned.")


class CountScanInput(serializers.Serializer):
    scan = serializers.CharField(
        max_length=128, help_text="The item's GTIN or GS1 label (item or case), or its SKU."
    )
    quantity = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=1_000_000,
        help_text="How many of what was scanned (empty: one).",
    )
    lot = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20, help_text="When not scanned."
    )
    replace = serializers.BooleanField(
        default=False, help_text="Set the item's total to this quantity instead of adding."
    )


class SubmitOutcomeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    stage = serializers.CharField()
    message = serializers.CharField()


class CountRequestInput(serializers.Serializer):
    warehouse = VisibleWarehouseField()
    location = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    zone = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    product = serializers.SlugRelatedField(
        slug_field="sku", queryset=Product.objects.all(), required=False, allow_null=True
    )
    note = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if bool(attrs["location"]) == bool(attrs["zone"]):
            raise serializers.ValidationError({"location": ["Give a bin or a zone, not both."]})
        if attrs["location"]:
            attrs["location"] = Location.objects.filter(
                warehouse=attrs["warehouse"], code=attrs["location"]
            ).first()
            if attrs["location"] is None:
                raise serializers.ValidationError({"location": ["No such bin here."]})
        else:
            attrs["location"] = None
        if attrs["zone"]:
            attrs["zone"] = Zone.objects.filter(
                warehouse=attrs["warehouse"], code=attrs["zone"]
            ).first()
            if attrs["zone"] is None:
                raise serializers.ValidationError({"zone": ["No such zone here."]})
            if attrs.get("product") is not None:
                raise serializers.ValidationError(
                    {"product": ["A zone is counted whole; name a bin to count one product."]}
                )
        else:
            attrs["zone"] = None
        return attrs


class ReviewLineSerializer(serializers.Serializer):
    sku = serializers.CharField(source="product.sku")
    lot = serializers.CharField(source="lot.code", allow_null=True)
    expected_at_start = serializers.IntegerField()
    ledger_moves = serializers.IntegerField()
    expected = serializers.IntegerField()
    counted = serializers.IntegerField()
    variance = serializers.IntegerField(allow_null=True)


class ReviewAttemptSerializer(serializers.ModelSerializer):
    counter = serializers.CharField(source="counter.username")
    lines = ReviewLineSerializer(many=True)

    class Meta:
        model = CountAttempt
        fields = [
            "number",
            "counter",
            "status",
            "started_at",
            "start_move_id",
            "submitted_at",
            "end_move_id",
            "is_over_threshold",
            "lines",
        ]


class CountReviewSerializer(serializers.Serializer):
    """For managers: every count of the bin with expected figures, ledger moves and variances."""

    task = CountTaskSerializer()
    approved_by = serializers.CharField(allow_null=True)
    variance_units = serializers.IntegerField(allow_null=True)
    is_accurate = serializers.BooleanField(allow_null=True)
    attempts = ReviewAttemptSerializer(many=True)


# --- views --------------------------------------------------------------------------------------


class CountTaskFilter(django_filters.FilterSet):
    warehouse = django_filters.CharFilter(field_name="warehouse__code")
    zone = django_filters.CharFilter(field_name="location__zone__code")
    location = django_filters.CharFilter(field_name="location__code")
    sku = django_filters.CharFilter(field_name="product__sku")

    class Meta:
        model = CountRequest
        fields = ["warehouse", "zone", "location", "sku", "status", "stage", "reason", "abc_class"]


class CountTaskViewSet(
    ScopedQuerysetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Cycle count tasks. Counters (inspectors) start, scan and submit blind counts; managers
    request counts of a bin or zone, review variances, approve them or ask for a recount."""

    serializer_class = CountTaskSerializer
    permission_classes = [RolePermission]
    filterset_class = CountTaskFilter
    read_roles = COUNTERS
    action_roles = {
        "create": (MANAGER,),
        "start": COUNTERS,
        "scan": COUNTERS,
        "submit": COUNTERS,
        "abandon": COUNTERS,
        "review": (MANAGER,),
        "approve": (MANAGER,),
        "recount": (MANAGER,),
    }
    model = CountRequest

    def get_scoped_queryset(self):
        counting_by = CountAttempt.objects.filter(
            request=OuterRef("pk"), status=CountAttempt.Status.COUNTING
        ).values("counter__username")[:1]
        return (
            selectors.list_count_requests(user=self.request.user)
            .annotate(counting_by=Subquery(counting_by))
            .order_by("-created_at", "-id")
        )

    def _task(self, request_id: int) -> CountRequest:
        return self.get_scoped_queryset().get(id=request_id)

    def _sheet(self, task: CountRequest) -> Response:
        attempt = selectors.get_counting_attempt(request=task, user=self.request.user)
        sheet = {
            "task": task,
            "attempt": attempt.number if attempt else 0,
            "counted": selectors.list_counted_items(attempt=attempt),
        }
        return Response(CountSheetSerializer(sheet).data)

    @extend_schema(request=CountRequestInput, responses={201: CountTaskSerializer(many=True)})
    def create(self, request):
        """Request counts of one bin (optionally one product in it) or of every bin of a zone."""
        data = CountRequestInput(data=request.data, context={"request": request})
        data.is_valid(raise_exception=True)
        values = data.validated_data
        made = services.request_counts(
            location=values["location"],
            zone=values["zone"],
            product=values.get("product"),
            note=values["note"],
            actor=request.user,
        )
        rows = self.get_scoped_queryset().filter(id__in=[task.id for task in made])
        return Response(CountTaskSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StartCountInput, responses={200: CountSheetSerializer})
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def start(self, request, pk=None):
        """Scan the bin to start (or resume) counting it. 422 another bin; 403 a recount by
        someone who counted the bin; 409 someone else is counting it."""
        task = self.get_object()
        data = StartCountInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.start_count(
            request_id=task.id, bin_code=data.validated_data["bin"], actor=request.user
        )
        return self._sheet(self._task(task.id))

    @extend_schema(
        request=CountScanInput,
        responses={200: CountSheetSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def scan(self, request, pk=None):
        """Count an item: one of what was scanned, or `quantity` of it (`replace` sets the
        item's total). 422 unknown item or one this count is not for."""
        task = self.get_object()

        def handler() -> Response:
            data = CountScanInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = data.validated_data
            services.record_count(
                request_id=task.id,
                scan=values["scan"],
                quantity=values.get("quantity"),
                lot=values["lot"],
                replace=values["replace"],
                key=request.headers.get("Idempotency-Key", ""),
                actor=request.user,
            )
            return self._sheet(self._task(task.id))

        return idempotent(request, handler, required=True)

    @extend_schema(
        request=None,
        responses={200: SubmitOutcomeSerializer},
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
    )
    @action(detail=True, methods=["post"], throttle_classes=SCAN_THROTTLES)
    def submit(self, request, pk=None):
        """The bin is counted: the variance is worked out (and, within the thresholds, posted).
        The answer says what happens next, never the expected figures."""
        task = self.get_object()

        def handler() -> Response:
            outcome = services.submit_count(
                request_id=task.id,
                actor=request.user,
                key=request.headers.get("Idempotency-Key", ""),
            )
            body = {
                "id": outcome.request_id,
                "status": outcome.status,
                "stage": outcome.stage,
                "message": outcome.message,
            }
            return Response(SubmitOutcomeSerializer(body).data)

        return idempotent(request, handler, required=True)

    @extend_schema(request=None, responses={200: CountTaskSerializer})
    @action(detail=True, methods=["post"])
    def abandon(self, request, pk=None):
        """Leave the bin uncounted; it waits for a counter again."""
        task = self.get_object()
        services.abandon_count(request_id=task.id, actor=request.user)
        return Response(CountTaskSerializer(self._task(task.id)).data)

    @extend_schema(request=None, responses={200: CountReviewSerializer})
    @action(detail=True, methods=["get"])
    def review(self, request, pk=None):
        """Managers: every count of the bin with expected figures, ledger moves and variances."""
        task = self.get_object()
        body = {
            "task": task,
            "approved_by": task.approved_by.username if task.approved_by_id else None,
            "variance_units": task.variance_units,
            "is_accurate": task.is_accurate,
            "attempts": selectors.list_attempts_for_review(request=task),
        }
        return Response(CountReviewSerializer(body).data)

    @extend_schema(request=None, responses={200: CountTaskSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Accept the last count: its variances are posted (reason `count`) and the task closes.
        403 for the manager who counted it; 409 when the stock no longer allows it."""
        task = self.get_object()
        services.approve_count(request_id=task.id, actor=request.user)
        return Response(CountTaskSerializer(self._task(task.id)).data)

    @extend_schema(request=None, responses={200: CountTaskSerializer})
    @action(detail=True, methods=["post"])
    def recount(self, request, pk=None):
        """Send a count in review back for a recount by someone who has not counted the bin."""
        task = self.get_object()
        services.request_recount(request_id=task.id, actor=request.user)
        return Response(CountTaskSerializer(self._task(task.id)).data)
