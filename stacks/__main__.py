"""Command line of the stacks package.

    python -m stacks preview STACK [--json FILE] [--manifests DIR] [--diff OTHER_STACK] [--debug]
                                   [--policy [--policy-config FILE]]
    python -m stacks config-schema [--check | --write] [--project-dir DIR]

Exit codes: 0 success; 1 a check failed (``config-schema --check``, a mandatory policy violation with
``--policy``); 2 bad input (unknown stack, malformed YAML, invalid settings or policy config, an error in the
program), reported in one message without a traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

import yaml

from stacks.offline import policy_run, report
from stacks.offline.engine import PROJECT_DIR, OfflineError, preview
from stacks.offline.fakes import MissingFake
from stacks.offline.plan import Plan
from stacks.settings import BootstrapSettings, PlatformSettings, SettingsError
from stacks.settings.schema import declarations

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
#: The settings root of each project configured from this package, by its Pulumi.yaml name.
SETTINGS_ROOTS: dict[str, type] = {"shop-platform": PlatformSettings, "shop-bootstrap": BootstrapSettings}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stacks", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("preview", help="evaluate a stack offline and show what it would create")
    run.add_argument("stack", help="stack name: Pulumi.STACK.yaml must exist")
    run.add_argument("--json", type=Path, metavar="FILE", help="write the plan as JSON")
    run.add_argument("--manifests", type=Path, metavar="DIR", help="write every Kubernetes object as YAML")
    run.add_argument("--diff", metavar="OTHER_STACK", help="compare with another stack")
    run.add_argument("--debug", action="store_true", help="show tracebacks")
    run.add_argument("--policy", action="store_true", help="check the plan with the CrossGuard pack (policies/)")
    run.add_argument(
        "--policy-config", type=Path, metavar="FILE", help="policy config (default: policies/config/STACK.json)"
    )
    run.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml (default: this project)"
    )

    schema = commands.add_parser("config-schema", help="the config block of Pulumi.yaml, from the settings")
    mode = schema.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if Pulumi.yaml is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite the config block of Pulumi.yaml")
    schema.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml, or bootstrap/")
    return parser


def _preview(stack: str, project_dir: Path, debug: bool, *, as_preview: bool = False) -> Plan:
    try:
        return preview(stack, project_dir.resolve(), as_preview=as_preview)
    except (OfflineError, SettingsError) as error:
        raise _Reported(str(error)) from error
    except MissingFake as error:
        raise _Reported(f"offline preview of '{stack}': {error}") from error
    except Exception as error:
        if debug:
            traceback.print_exc()
        raise _Reported(f"the program failed for stack '{stack}': {_describe(error, project_dir)}") from error


def _describe(error: BaseException, project_dir: Path) -> str:
    """The error and the last line of project code it passed through: not this command line's, the engine's or the
    SDK's (an error inside an ``apply`` may pass through no project code at all)."""
    tooling = (Path(__file__), Path(__file__).parent / "offline")
    roots = (project_dir.resolve(), PROJECT_DIR)
    where = ""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = Path(frame.filename)
        root = next((r for r in roots if path.is_relative_to(r)), None)
        if root and ".venv" not in path.parts and not any(path.is_relative_to(tool) for tool in tooling):
            where = f" (at {path.relative_to(root)}:{frame.lineno})"
            break
    return f"{type(error).__name__}: {error}{where}"


class _Reported(Exception):
    """An error already worded for the user."""


def _run_preview(args: argparse.Namespace) -> int:
    plan = _preview(args.stack, args.project_dir, args.debug)
    print(report.tree(plan))
    print()
    print(report.summary(plan))
    print()
    print(report.outputs(plan))
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        plan.write_json(args.json)
        print(f"\nPlan written to {args.json}")
    if args.manifests:
        written = report.write_manifests(plan, args.manifests)
        print(f"{len(written)} Kubernetes manifests written to {args.manifests}")
    if args.diff:
        print()
        print(report.diff(plan, _preview(args.diff, args.project_dir, args.debug)))
    if args.policy:
        print()
        as_previewed = _preview(args.stack, args.project_dir, args.debug, as_preview=True)
        return _run_policy(plan, args.policy_config, as_previewed)
    return 0


def _run_policy(plan: Plan, config: Path | None, as_previewed: Plan) -> int:
    try:
        violations, text = policy_run.check(plan, config, preview_plan=as_previewed)
    except policy_run.PolicyConfigError as error:
        raise _Reported(str(error)) from error
    print(text)
    return EXIT_FAILED if any(violation.mandatory for violation in violations) else 0


def _run_config_schema(args: argparse.Namespace) -> int:
    project_file = args.project_dir / "Pulumi.yaml"
    document = yaml.safe_load(project_file.read_text())
    root = SETTINGS_ROOTS.get(document.get("name"))
    if root is None:
        known = ", ".join(SETTINGS_ROOTS)
        raise _Reported(f"{project_file}: no settings for project {document.get('name')!r} (known: {known})")
    declared = declarations(root)
    block = yaml.safe_dump({"config": declared}, sort_keys=False, width=110)
    if args.check:
        if document.get("config") != declared:
            where = "" if args.project_dir == PROJECT_DIR else f" --project-dir {args.project_dir}"
            print(
                f"{project_file}: the config block is out of date; run: python -m stacks config-schema --write{where}",
                file=sys.stderr,
            )
            return EXIT_FAILED
        return 0
    if args.write:
        header = {key: value for key, value in document.items() if key != "config"}
        project_file.write_text(yaml.safe_dump(header, sort_keys=False, width=110) + block)
        return 0
    print(block, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "preview":
            return _run_preview(args)
        return _run_config_schema(args)
    except _Reported as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
