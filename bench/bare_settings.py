"""Settings for the scan throughput benchmark: the product's settings plus a bare endpoint.

The bare endpoint lives only here (and in bench/bare_urls.py), never in the product.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
DEBUG = False
