"""The `kat` sub-commands, one module per area (see :mod:`kat.cli`)."""
