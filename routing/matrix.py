"""Travel distances between coordinates for route planning.

A provider turns a list of (latitude, longitude) points into a matrix of road distances in
metres. The default estimates road distance as great-circle distance times a road factor; a
provider backed by a routing engine can replace it through DOCKSIDE["TRAVEL_MATRIX_PROVIDER"].
Travel time is distance over each vehicle's average speed, so one matrix serves every vehicle.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from django.conf import settings
from django.utils.module_loading import import_string

EARTH_RADIUS_M = 6_371_008.8

Point = tuple[float, float]


class TravelMatrixProvider(Protocol):
    def distances(self, points: Sequence[Point]) -> np.ndarray:
        """Square matrix of integer metres; [i][j] is the road distance from i to j."""
        ...


class GreatCircleProvider:
    """Haversine distance times a road factor, vectorised over all pairs at once."""

    def __init__(self, road_factor: float | None = None) -> None:
        self.road_factor = road_factor or settings.DOCKSIDE["ROAD_FACTOR"]

    def distances(self, points: Sequence[Point]) -> np.ndarray:
        if not points:
            return np.zeros((0, 0), dtype=np.int64)
        radians = np.radians(np.asarray(points, dtype=np.float64))
        lat, lon = radians[:, 0:1], radians[:, 1:2]
        dlat = lat - lat.T
        dlon = lon - lon.T
        a = np.sin(dlat / 2) ** 2 + np.cos(lat) * np.cos(lat.T) * np.sin(dlon / 2) ** 2
        metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))
        return np.rint(metres * self.road_factor).astype(np.int64)


def get_provider() -> TravelMatrixProvider:
    path = settings.DOCKSIDE.get("TRAVEL_MATRIX_PROVIDER", "routing.matrix.GreatCircleProvider")
    return import_string(path)()


def points_key(points: Sequence[Point]) -> str:
    """A stable key for a list of points, to tell whether a stored matrix still fits."""
    digest = hashlib.sha256()
    provider = settings.DOCKSIDE.get("TRAVEL_MATRIX_PROVIDER", "great-circle")
    digest.update(f"{provider}:{settings.DOCKSIDE['ROAD_FACTOR']}".encode())
    for lat, lon in points:
        digest.update(f"{lat:.6f},{lon:.6f};".encode())
    return digest.hexdigest()


def to_bytes(matrix: np.ndarray) -> bytes:
    return matrix.astype(np.int64).tobytes()


def from_bytes(raw: bytes, size: int) -> np.ndarray:
    return np.frombuffer(raw, dtype=np.int64).reshape(size, size)
