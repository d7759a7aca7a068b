"""kat: OpenKAT-style boefjes and normalizers on Dramatiq, with a YAML KATalogus."""

__version__ = "0.1.0"
