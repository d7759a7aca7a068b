# kat on a slim Python base, as a non-root user, installed the way `make install` does
# it (a virtualenv in .venv, `pip install` of the package with its extras).
#
#   docker build -t kat .
#   docker run -p 8003:8003 kat                       # the KATalogus (default command)
#   docker run kat python -m kat boefje               # boefje worker
#   docker run kat python -m kat normalizer           # normalizer worker
#   docker run kat python -m kat scan --org ORG --inline --wait 'Hostname|internet|example.com'
#
# Point KAT_BROKER_URL at RabbitMQ, and mount catalogue/ and data/ as volumes (shared by
# the containers of one machine). `docker stop` gives 10 s: the workers' grace period
# below leaves them time to hand back what did not finish.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    KAT_CATALOGUE_DIR=/app/catalogue \
    KAT_PLUGINS_DIR=/app/plugins \
    KAT_DATA_DIR=/app/data \
    KATALOGUS_BIND=0.0.0.0:8003 \
    KAT_SHUTDOWN_GRACE=8

RUN useradd --create-home --uid 1000 kat
WORKDIR /app

# make venv + make install (without the test extra).
RUN python -m venv /app/.venv && /app/.venv/bin/pip install --quiet --upgrade pip
COPY setup.cfg pyproject.toml README.md MANIFEST.in ./
COPY kat ./kat
RUN /app/.venv/bin/pip install --no-cache-dir '.[plugins]'

COPY --chown=kat:kat plugins ./plugins
COPY --chown=kat:kat catalogue ./catalogue
COPY gunicorn.conf.py Procfile Procfile.worker ./
RUN mkdir -p /app/data && chown kat:kat /app/data

USER kat
VOLUME ["/app/catalogue", "/app/data"]
EXPOSE 8003
CMD ["gunicorn", "-c", "gunicorn.conf.py", "kat.katalogus.app:get_app()"]
