"""The default-embedding matrix: the transport embedded as hosts do (default telemetry, global
Prometheus registry, with and without ``async with``), in four telemetry environments, through the
ways hosts consume streams. Run ``python -m tests.embedding --env ENV`` from the repository root;
``tests/test_default_embedding.py`` and ``make embed-core`` run it."""
