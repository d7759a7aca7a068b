# kat: the same install steps as `make install`, on a slim Python base, as a non-root user.
#
#   docker build -t kat .
#   docker run kat python -m kat boefje          # boefje worker
#   docker run kat python -m kat normalizer      # normalizer worker
#   docker run -p 8003:8003 kat                  # the KATalogus (default command)
#
# Point KAT_BROKER_URL at RabbitMQ and mount catalogue/ and data/ as volumes.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KAT_CATALOGUE_DIR=/app/catalogue \
    KAT_PLUGINS_DIR=/app/plugins \
    KAT_DATA_DIR=/app/data

RUN useradd --create-home --uid 1000 kat
WORKDIR /app

COPY setup.cfg pyproject.toml README.md MANIFEST.in ./
COPY kat ./kat
RUN pip install --no-cache-dir '.[plugins]'

COPY --chown=kat:kat plugins ./plugins
COPY --chown=kat:kat catalogue ./catalogue
COPY gunicorn.conf.py Procfile ./
RUN mkdir -p /app/data && chown kat:kat /app/data

USER kat
VOLUME ["/app/catalogue", "/app/data"]
EXPOSE 8003
CMD ["gunicorn", "-c", "gunicorn.conf.py", "kat.katalogus.app:get_app()"]
