"""The checked-in contracts: `api_contract.yaml` (OpenAPI) and `asyncapi.yaml`.

Both are generated from the code; tests fail when the checked-in files drift from what
the app serves. Regenerate with `make contracts`.
"""

from pathlib import Path
from typing import Any

import yaml

from crm.asyncapi import build_asyncapi
from crm.bootstrap import bootstrap
from crm.runtime import Runtime
from crm.settings import Settings
from crm.web import build_app

OPENAPI_FILE = "api_contract.yaml"
ASYNCAPI_FILE = "asyncapi.yaml"


def contract_documents() -> dict[str, dict[str, Any]]:
    """What the app serves, for the default (contract) topic names, in embedded mode."""
    settings = Settings(kafka_url=None, mongo_url=None)
    app = build_app(Runtime(bootstrap(settings)))
    return {OPENAPI_FILE: app.openapi(), ASYNCAPI_FILE: build_asyncapi(settings.topics)}


def dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def write_contracts(directory: Path) -> list[Path]:
    written = []
    for name, document in contract_documents().items():
        path = directory / name
        path.write_text(dump(document))
        written.append(path)
    return written
