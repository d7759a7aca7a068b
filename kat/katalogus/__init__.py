"""The KATalogus: a Falcon REST API over the YAML catalogue, served by gunicorn."""
