"""Returns its whole os.environ as JSON."""

import json
import os


def run(boefje_meta: dict):
    print(dict(os.environ))
    return [({"application/json"}, json.dumps(dict(os.environ)))]
