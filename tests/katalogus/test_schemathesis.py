"""schemathesis against ``openapi.yaml``: no 5xx, and every response fits the spec."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

from kat.catalogue import Catalogue
from kat.config import load
from kat.katalogus.app import create_app
from tests.katalogus.conftest import write_catalogue, write_plugins

# One app for the whole run, over a tmp catalogue that has the ids schemathesis will try
# often (so it reaches past the 404s) and the plugins of the other tests.
_TMP = Path(tempfile.mkdtemp(prefix="kat-schemathesis-"))
write_catalogue(_TMP / "catalogue")
write_plugins(_TMP / "plugins")
_ENV = {"KAT_CATALOGUE_DIR": str(_TMP / "catalogue"), "KAT_PLUGINS_DIR": str(_TMP / "plugins")}
for org in ("0", "A", "_", "a"):
    Catalogue(_TMP / "catalogue").create_organisation(org)

schema = schemathesis.openapi.from_wsgi("/openapi.yaml", create_app(load(_ENV)))


@schema.parametrize()
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_spec(case):
    case.call_and_validate()


def teardown_module() -> None:
    shutil.rmtree(_TMP, ignore_errors=True)
