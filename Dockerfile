# kat on a slim Python base, as a non-root user, installed the way `make install` does
# it (a virtualenv in .venv, `pip install` of the package with its extras).
#
#   docker build -t kat .
#   docker run -p 127.0.0.1:8003:8003 -e KAT_ALLOW_INSECURE_BIND=1 kat   # KATalogus + console
#       (it listens on 0.0.0.0 in the container: give KATALOGUS_API_TOKEN, or say with
#       KAT_ALLOW_INSECURE_BIND=1 that the published port stays on this machine)
#   docker run kat python -m kat boefje               # boefje worker
#   docker run kat python -m kat normalizer           # normalizer worker
#   docker compose up                                 # all of it with RabbitMQ (compose.yaml)
#
# Point KAT_BROKER_URL at RabbitMQ, and mount catalogue/ and data/ as volumes (shared by
# the containers of one machine). `docker stop` gives 10 s: the workers' grace period
# below leaves them time to hand back what did not finish. .dockerignore keeps .env,
# .venv, data/ and .git out of the build context.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH \
    KAT_CATALOGUE_DIR=/app/catalogue \
    KAT_PLUGINS_DIR=/app/plugins \
    KAT_DATA_DIR=/app/data \
    KATALOGUS_BIND=0.0.0.0:8003 \
    KAT_SHUTDOWN_GRACE=8

# The programs of the binary-backed boefjes (nmap, testssl-sh-ciphers, ssl-version,
# masscan), from Debian packages. nmap -sS/-sU and masscan need root or CAP_NET_RAW:
# run those workers with `--cap-add NET_RAW --cap-add NET_ADMIN` (and `--user root`).
COPY scripts/ensure-scanners.sh /usr/local/bin/ensure-scanners.sh
RUN ensure-scanners.sh && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 kat
WORKDIR /app

# Dependencies first, from the package metadata alone: this layer is rebuilt only when
# setup.cfg or pyproject.toml change, not on every code change.
RUN python -m venv /app/.venv && /app/.venv/bin/pip install --quiet --upgrade pip
COPY setup.cfg pyproject.toml ./
RUN python -c "import configparser; c = configparser.ConfigParser(); c.read('setup.cfg'); \
print(c['options']['install_requires'] + c['options.extras_require']['plugins'])" \
    | sed '/^[[:space:]]*$/d' > /tmp/requirements.txt
RUN /app/.venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# Then the code (no dependency is fetched again: --no-deps).
COPY README.md MANIFEST.in ./
COPY kat ./kat
RUN /app/.venv/bin/pip install --no-cache-dir --no-deps .

COPY --chown=kat:kat plugins ./plugins
COPY --chown=kat:kat catalogue ./catalogue
COPY gunicorn.conf.py Procfile Procfile.worker ./
RUN mkdir -p /app/data && chown kat:kat /app/data

USER kat
VOLUME ["/app/catalogue", "/app/data"]
EXPOSE 8003
# /health answers 200 while the KATalogus serves (the workers' images override this).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8003/health', timeout=4).status != 200)"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "kat.katalogus.app:get_app()"]
