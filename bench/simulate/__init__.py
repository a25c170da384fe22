"""A day in the warehouse, played through the public API: `python -m bench.simulate`."""
