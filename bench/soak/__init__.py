"""A bounded soak test of ``tessera serve`` on PostgreSQL: ``python -m bench.soak`` (see ``__main__``)."""
