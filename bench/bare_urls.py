"""The product's URLs plus `/bench/bare/`: a DRF endpoint doing one INSERT and one UPDATE.

It is the reference the scan endpoint is measured against: same server, same authentication
(device token), same transaction handling, but none of the receiving work.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as product_urlpatterns

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS bench_bare_event (
    id bigserial PRIMARY KEY, user_id integer NOT NULL, body text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS bench_bare_counter (
    user_id integer PRIMARY KEY, hits bigint NOT NULL DEFAULT 0);
"""


class BareView(APIView):
    permission_classes = [IsAuthenticated]

    def post(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO bench_bare_event (user_id, body) VALUES (%s, %s) RETURNING id",
                [request.user.id, str(request.data.get("barcode", ""))[:200]],
            )
            event_id = cursor.fetchone()[0]
            cursor.execute(
                "UPDATE bench_bare_counter SET hits = hits + 1 WHERE user_id = %s RETURNING hits",
                [request.user.id],
            )
            row = cursor.fetchone()
        return Response({"event": event_id, "hits": row[0] if row else None}, status=201)


urlpatterns = [*product_urlpatterns, path("bench/bare/", BareView.as_view())]
