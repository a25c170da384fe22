"""Delivery and warehouse KPIs: definitions, SQL computation into snapshots, the admin dashboard."""
