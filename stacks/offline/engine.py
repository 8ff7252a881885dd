"""The offline preview engine: runs the real Pulumi program against a recording mock monitor.

No Pulumi CLI, no credentials and no network: the program (``__main__.py``) is evaluated exactly as the CLI
would evaluate it, with the stack's config, but every RegisterResource request is recorded (type, name,
parent, dependencies, property dependencies, provider, options, inputs) and answered by the fake cloud
(``stacks/offline/fakes/``).

Two modes. By default (``as_preview=False``) every resource answers with the fake cloud's full state, as
``pulumi up`` sees it once each resource exists. With ``as_preview=True`` the run is what ``pulumi preview`` of a
new stack sees: the SDK runs in dry-run mode (``set_mocks(preview=True)``) and a resource to be created answers
with its inputs only -- its id and every output the provider computes (ARNs, generated names, endpoints) are
unknown, so whatever depends on them is unknown too, and ``apply`` callbacks over them do not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import runpy
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import json_format, struct_pb2
from pulumi import Output
from pulumi.output import Unknown
from pulumi.runtime import rpc, set_all_config, set_mocks
from pulumi.runtime.mocks import MockMonitor, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.settings import ROOT, get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from stacks.offline.fakes import FakeCloud
from stacks.offline.plan import (
    RESOURCE_SIG,
    SECRET,
    SIG_KEY,
    Plan,
    PlannedResource,
    is_secret,
    make_urn,
    normalise,
    secret,
    secret_strings,
)

PROJECT_DIR = Path(__file__).resolve().parents[2]


class OfflineError(Exception):
    """A problem with the user's input (stack name, YAML, settings, program): reported in one message."""


class RecordingMonitor(MockMonitor):
    """A mock resource monitor that records every registration and answers from the fake cloud."""

    def __init__(self, cloud: FakeCloud, *, as_preview: bool = False) -> None:
        super().__init__(cloud)
        self.cloud = cloud
        self.as_preview = as_preview
        self.records: list[PlannedResource] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        from pulumi.runtime.settings import get_project, get_stack

        return make_urn(get_stack(), get_project(), type_, name, parent)

    def RegisterResource(self, request: Any) -> Any:
        if request.type == "pulumi:pulumi:Stack":
            return super().RegisterResource(request)
        _ensure_event_loop()
        urn = self.make_urn(request.parent, request.type, request.name)
        inputs = _fake_inputs(request)
        resource_id, state = self.cloud.create(
            request.type,
            request.name,
            urn,
            inputs,
            custom=request.custom,
            remote=request.remote,
            provider=request.provider,
        )
        if self.as_preview and request.custom and not request.type.startswith("pulumi:providers:"):
            resource_id, state = "", _as_planned(inputs, state)
        for key in request.additionalSecretOutputs:
            if key in state and not is_secret(state[key]):
                if isinstance(state[key], str):
                    self.cloud.secret_values.add(state[key])
                state[key] = secret(state[key])
        self.records.append(_record(request, urn, resource_id, state, self.cloud.secret_values))
        payload = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=payload)


def _as_planned(inputs: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """What the engine answers for a resource it is about to create: the inputs, every computed output unknown."""
    return {key: _wire_unknowns(inputs.get(key, rpc.UNKNOWN)) for key in state}


def _wire_unknowns(value: Any) -> Any:
    """Unknown inputs (deserialised during a dry run as ``pulumi.output.Unknown``) as the wire's unknown value."""
    if isinstance(value, Unknown):
        return rpc.UNKNOWN
    if isinstance(value, dict):
        return {key: _wire_unknowns(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire_unknowns(item) for item in value]
    return value


def _fake_inputs(request: Any) -> dict[str, Any]:
    """The inputs as the fakes see them, with resource references as their URNs: deserialising a reference (e.g.
    the cluster handed to a node group) would construct that resource again from inside the monitor."""

    def without_references(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get(SIG_KEY) == RESOURCE_SIG:
                return value["urn"]
            return {key: without_references(item) for key, item in value.items()}
        if isinstance(value, list):
            return [without_references(item) for item in value]
        return value

    struct = struct_pb2.Struct()
    struct.update(without_references(json_format.MessageToDict(request.object)))
    return rpc.deserialize_properties(struct)


def _record(
    request: Any, urn: str, resource_id: str, state: Mapping[str, Any], secret_values: set[str]
) -> PlannedResource:
    raw_inputs = json_format.MessageToDict(request.object) if request.HasField("object") else {}
    secret_values.update(secret_strings(raw_inputs))
    inputs, revealed_inputs = _masked_and_revealed(raw_inputs)
    outputs, revealed_outputs = _masked_and_revealed(state)
    return PlannedResource(
        urn=urn,
        type=request.type,
        name=request.name,
        parent=request.parent or None,
        dependencies=sorted(set(request.dependencies)),
        property_dependencies={
            key: sorted(set(dependencies.urns)) for key, dependencies in request.propertyDependencies.items()
        },
        provider=request.provider.rsplit("::", 1)[0] if request.provider else None,
        options={
            "protect": request.protect if request.HasField("protect") else False,
            "retainOnDelete": request.retainOnDelete if request.HasField("retainOnDelete") else False,
            "deleteBeforeReplace": request.deleteBeforeReplace,
            "ignoreChanges": list(request.ignoreChanges),
            "replaceOnChanges": list(request.replaceOnChanges),
            "additionalSecretOutputs": list(request.additionalSecretOutputs),
            # The engine applies them to the resource and its descendants (also a remote component's, which the
            # offline plan does not show): their qualified names say what they do to those.
            "transforms": [f"{fn.__module__}.{fn.__qualname__}" for fn in _resolve_callbacks(request.transforms)],
            # The URNs this resource may have had (the engine resolves them against the state: changes.py).
            **({"aliases": [_alias(alias) for alias in request.aliases]} if request.aliases else {}),
        },
        inputs=inputs,
        custom=bool(request.custom),
        id=resource_id,
        outputs=outputs,
        revealed_inputs=revealed_inputs,
        revealed_outputs=revealed_outputs,
    )


def _alias(alias: Any) -> dict[str, Any]:
    """An alias as the SDK sends it: ``{"urn": ...}``, or its spec (``name``, ``type``, ``stack``, ``project``,
    ``parentUrn`` or ``noParent``; what it leaves out is the resource's own)."""
    document = json_format.MessageToDict(alias)
    return document.get("spec", document)


def _masked_and_revealed(wire: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``wire`` normalised with its secrets masked, and with them in plain (None when it holds no secret)."""
    masked = normalise(wire)
    revealed = normalise(wire, reveal=True)
    return masked, None if revealed == masked else revealed


# ---------------------------------------------------------------------------------------------- config


def stack_names(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(path.name[len("Pulumi.") : -len(".yaml")] for path in project_dir.glob("Pulumi.*.yaml"))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        reason = getattr(error, "problem", None) or str(error)
        raise OfflineError(f"{path.name}: malformed YAML{where}: {reason}") from None
    if not isinstance(document, dict):
        raise OfflineError(f"{path.name}: expected a mapping at the top level")
    return document


def _engine_value(value: Any) -> str:
    """Config values reach the program as the CLI hands them over: strings, structured values as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def load_config(
    stack: str, project_dir: Path = PROJECT_DIR, overrides: Mapping[str, Any] | None = None
) -> tuple[str, dict[str, str], list[str]]:
    """(project name, config as the engine passes it, secret keys) for ``stack``."""
    project_file = project_dir / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    project = project_doc.get("name")
    if not isinstance(project, str):
        raise OfflineError(f"{project_file.name}: 'name' is missing")
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file():
        known = ", ".join(stack_names(project_dir)) or "none"
        raise OfflineError(f"unknown stack '{stack}': there is no {stack_file.name} (known stacks: {known})")

    def full_key(key: str) -> str:
        return key if ":" in key else f"{project}:{key}"

    defaults = {
        full_key(key): _engine_value(declaration["default"])
        for key, declaration in (project_doc.get("config") or {}).items()
        if isinstance(declaration, dict) and "default" in declaration
    }
    config = dict(defaults)
    stack_config = _read_yaml(stack_file).get("config") or {}
    if not isinstance(stack_config, dict):
        raise OfflineError(f"{stack_file.name}: 'config' must be a mapping of keys to values")
    secret_keys: list[str] = []
    for key, value in {**stack_config, **(overrides or {})}.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            # Ciphertext cannot be decrypted offline: a placeholder, still treated as a secret.
            config[full_key(key)] = f"offline-placeholder-for-{full_key(key)}"
            secret_keys.append(full_key(key))
        elif value is None:  # an override that removes the stack's value: the project default applies
            config.pop(full_key(key), None)
            if full_key(key) in defaults:
                config[full_key(key)] = defaults[full_key(key)]
        else:
            config[full_key(key)] = _engine_value(value)
    return project, config, secret_keys


# ---------------------------------------------------------------------------------------------- running


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _program_environment(project_dir: Path) -> Iterator[None]:
    """The CLI runs the program from the project directory with it on the import path."""
    old_cwd, old_path = Path.cwd(), list(sys.path)
    os.chdir(project_dir)
    sys.path.insert(0, str(project_dir))
    try:
        yield
    finally:
        os.chdir(old_cwd)
        sys.path[:] = old_path


def preview(
    stack: str,
    project_dir: Path = PROJECT_DIR,
    overrides: Mapping[str, Any] | None = None,
    *,
    as_preview: bool = False,
) -> Plan:
    """Evaluate the program for ``stack`` offline and return its plan.

    ``overrides`` (config key -> value, ``None`` removes a key) lets tests vary one setting of a stack;
    ``as_preview`` evaluates it as ``pulumi preview`` sees a new stack (see the module docstring).
    Exceptions raised by the program propagate unchanged; see ``stacks.__main__`` for how they are reported.
    """
    project_dir = project_dir.resolve()  # the program runs from it, so a relative path would not resolve there
    project, config, secret_keys = load_config(stack, project_dir, overrides)
    region = config.get("aws:region", "us-east-1")
    # A fresh context: every run gets its own root stack, config and settings, even within one process.
    return contextvars.Context().run(
        _evaluate, project_dir, project, stack, config, secret_keys, region, as_preview=as_preview
    )


def _evaluate(
    project_dir: Path,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str],
    region: str,
    *,
    as_preview: bool,
) -> Plan:
    ROOT.set(None)
    set_all_config(config, secret_keys)
    cloud = FakeCloud(region=region)
    cloud.secret_values.update(config[key] for key in secret_keys)
    monitor = RecordingMonitor(cloud, as_preview=as_preview)
    warnings = _WarningCollector()
    logger = logging.getLogger(f"stacks.offline.{stack}")
    logger.propagate = False
    logger.handlers[:] = [warnings]
    set_mocks(cloud, project=project, stack=stack, preview=as_preview, logger=logger, monitor=monitor)

    main = project_dir / "__main__.py"
    executor = ThreadPoolExecutor(thread_name_prefix="offline-preview")
    asyncio.get_event_loop().set_default_executor(executor)
    with _program_environment(project_dir):
        _sync_await(run_pulumi_func(lambda: _run_program(main)))
        root = get_root_resource()
        exported: dict[str, Any] = dict(getattr(root, "outputs", {}))
        resolved = {name: _sync_await(_resolve(value)) for name, value in exported.items()}
        # The SDK runs RPCs on the loop's default executor, whose threads each own an event loop; end them now
        # rather than at interpreter exit, when closing their loops fails noisily.
        executor.shutdown(wait=True)
    outputs = {name: SECRET if is_secret else value for name, (value, is_secret) in resolved.items()}
    revealed_outputs = {name: value for name, (value, _) in resolved.items()}
    return Plan(
        project=project,
        stack=stack,
        resources=sorted(monitor.records, key=lambda resource: resource.urn),
        outputs=outputs,
        secret_values=frozenset(cloud.secret_values),
        revealed_outputs=None if revealed_outputs == outputs else revealed_outputs,
        warnings=tuple(warnings.messages),
        region=region,
    )


def _run_program(main: Path) -> None:
    runpy.run_path(str(main), run_name="__main__")


async def _resolve(value: Any) -> tuple[Any, bool]:
    """A stack output's value (normalised, in plain) and whether it is secret."""
    output = Output.from_input(value)
    return normalise(await output.future(), reveal=True), await output.is_secret()
