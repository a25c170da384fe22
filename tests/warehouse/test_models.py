"""Model rules: GTINs stored as GTIN-14, pack size conversion, bins stay in their warehouse."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import warehouse as wf
from warehouse.gs1 import InvalidGTIN
from warehouse.models import Location, PackSize, Product

pytestmark = pytest.mark.django_db


class TestGtinNormalisation:
    @pytest.mark.parametrize(
        ("given", "stored"),
        [
            ("5901234123457", "05901234123457"),  # EAN-13
            ("036000291452", "00036000291452"),  # UPC-A
            ("96385074", "00000096385074"),  # GTIN-8
            ("15901234123454", "15901234123454"),  # GTIN-14 as is
            ("  5901234123457 ", "05901234123457"),  # scanner whitespace
        ],
    )
    def test_stored_as_gtin_14(self, given, stored):
        product = Product.objects.create(sku="G-1", name="Milk", gtin=given)
        product.refresh_from_db()
        assert product.gtin == stored

    def test_the_same_item_in_two_forms_is_one_gtin(self):
        Product.objects.create(sku="G-1", name="Milk", gtin="5901234123457")
        with pytest.raises(IntegrityError), transaction.atomic():
            Product.objects.create(sku="G-2", name="Milk again", gtin="05901234123457")

    def test_empty_gtin_is_null(self):
        first = Product.objects.create(sku="G-1", name="Loose", gtin="")
        second = Product.objects.create(sku="G-2", name="Loose too", gtin="")
        # NULL, not "": two products without a GTIN do not clash on the unique index.
        assert first.gtin is None
        assert second.gtin is None

    @pytest.mark.parametrize("bad", ["5901234123458", "12345", "59012341234X7"])
    def test_invalid_gtin_is_refused_on_save(self, bad):
        with pytest.raises(InvalidGTIN):
            Product.objects.create(sku="G-1", name="Milk", gtin=bad)
        assert not Product.objects.exists()

    def test_full_clean_reports_the_field(self):
        product = Product(sku="G-1", name="Milk", gtin="5901234123458")
        with pytest.raises(ValidationError) as error:
            product.full_clean()
        assert "gtin" in error.value.message_dict

    def test_pack_gtin_is_normalised_too(self):
        product = wf.make_product(case=None)
        pack = PackSize.objects.create(product=product, name="case", quantity=6, gtin="96385074")
        assert pack.gtin == "00000096385074"


class TestUnitsPer:
    def test_conversions(self):
        product = wf.make_product(case=12)
        PackSize.objects.create(product=product, name="pallet", quantity=480)
        assert product.units_per(None) == 1
        assert product.units_per("") == 1
        assert product.units_per("each") == 1  # the base unit itself
        assert product.units_per("case") == 12
        assert product.units_per("pallet") == 480

    def test_unknown_pack(self):
        product = wf.make_product(case=12)
        with pytest.raises(PackSize.DoesNotExist):
            product.units_per("pallet")

    def test_another_products_pack_does_not_count(self):
        product = wf.make_product(case=None)
        wf.make_product(case=24)
        with pytest.raises(PackSize.DoesNotExist):
            product.units_per("case")


class TestLocationClean:
    def test_zone_of_another_warehouse_is_refused(self, site):
        other = wf.make_site(code="OTHER")
        location = Location(warehouse=site.warehouse, zone=other.zones["storage"], code="X-1")
        with pytest.raises(ValidationError) as error:
            location.clean()
        assert error.value.message_dict == {"zone": ["The zone belongs to another warehouse."]}
        with pytest.raises(ValidationError):
            location.full_clean()

    def test_zone_of_the_same_warehouse_is_fine(self, site):
        location = Location(warehouse=site.warehouse, zone=site.zones["storage"], code="X-1")
        location.full_clean()
