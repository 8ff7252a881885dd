"""Custom resources checked against the CRDs of the controller version the cluster installs.

``kubernetes-validate`` knows the built-in kinds only. The stacks' custom resources (Argo Rollouts' Rollout and
AnalysisTemplate) are validated here against the ``openAPIV3Schema`` of the CRDs vendored with the pinned chart
(components/cluster/crds/, source and version in its README), as strictly as ``kubernetes-validate --strict``: a
field the schema does not declare is an error (the API server would drop it silently).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

CRD_DIRECTORY = Path(__file__).resolve().parent.parent / "components" / "cluster" / "crds"

Schemas = Mapping[tuple[str, str], dict[str, Any]]


@cache
def schemas() -> Schemas:
    """``(apiVersion, kind)`` -> the strict JSON schema of every served version of every vendored CRD."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(CRD_DIRECTORY.glob("*/*-crd.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            if version.get("served"):
                api_version = f"{spec['group']}/{version['name']}"
                found[(api_version, spec["names"]["kind"])] = _strict(version["schema"]["openAPIV3Schema"])
    return found


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with undeclared fields rejected wherever it declares an object's fields (and does not preserve
    unknown ones); ``metadata`` is the API server's ObjectMeta, which kubernetes-validate checks for built-ins."""
    strict = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(strict)
    return strict


def is_custom(manifest: Mapping[str, Any]) -> bool:
    return (manifest.get("apiVersion"), manifest.get("kind")) in schemas()


def problems(manifest: Mapping[str, Any]) -> Iterator[str]:
    """What makes ``manifest`` invalid for its CRD: one line per error, with the path to the field."""
    schema = schemas()[(manifest["apiVersion"], manifest["kind"])]
    validator = jsonschema.Draft7Validator(schema)
    for error in sorted(validator.iter_errors(manifest), key=lambda error: list(error.absolute_path)):
        where = ".".join(str(part) for part in error.absolute_path) or "(object)"
        yield f"{manifest['kind']} {manifest.get('metadata', {}).get('name', '?')}: {where}: {error.message}"
