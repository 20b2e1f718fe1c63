"""The 360Giving schema 1.4.3 (kept in tests/data/360giving), for validating what we publish, offline.

The package schema names the grant schema by a URL (version 1.4.2); it is registered under that
URL so nothing is fetched. The files declare draft 2020-12 by its http address, which
`referencing` does not recognise by itself, so the specification is given; and dates are a
`oneOf` of a date pattern and `format: date-time`, so format checking must be on (with
rfc3339-validator installed) or a plain date matches both branches and fails.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "data" / "360giving"


def _resource(name: str) -> Resource[Any]:
    contents = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return Resource.from_contents(contents, default_specification=DRAFT202012)


@cache
def validator() -> Draft202012Validator:
    package = _resource("360-giving-package-schema.json")
    grant = _resource("360-giving-schema.json")
    grant_url = package.contents["properties"]["grants"]["items"]["$ref"]
    registry: Registry[Any] = Registry().with_resources([(grant_url, grant), (package.contents["$id"], package)])
    return Draft202012Validator(package.contents, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def errors(data: dict[str, Any]) -> list[str]:
    """Every way `data` breaks the schema, as readable lines (empty when valid)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in validator().iter_errors(data)]
