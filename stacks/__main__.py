"""Command line of the stacks package.

    python -m stacks preview STACK [--against REV [--diff-json FILE]] [--json FILE] [--manifests DIR]
                                   [--diff OTHER_STACK] [--policy] [--policy-config FILE] [--timeline] [--quiet]
                                   [--debug]
    python -m stacks cost STACK [--against REV] [--json FILE]
    python -m stacks config-schema [--check | --write] [--project-dir DIR]
    python -m stacks doctor STACK
    python -m stacks first-deploy STACK

``--against REV`` shows what the working tree changes in STACK compared with git revision REV (docs/reviewing.md);
with ``cost``, what it changes in the monthly estimate (docs/cost.md). ``--timeline`` shows the critical path of a
fresh deploy of STACK (``stacks.offline.lifecycle``).
A FILE of ``-`` is standard output, which then holds only that JSON (everything else goes to standard error).

Exit codes (``stacks.exit_codes.Exit``): 0 success; 1 a check failed (``config-schema --check``, a mandatory
policy violation with ``--policy``); 2 bad input (unknown stack or revision, malformed YAML, invalid settings or
policy config, an error in the program), reported in one message without a traceback unless ``--debug``. Flags are
checked before anything is evaluated.

Only the commands that check policies (``--policy``, ``--against``) load the policy pack's runner
(``stacks.offline.policy_run``, imported where used): it needs pulumi-policy and jsonschema, which the locked deploy
environment (requirements.lock, `make deploy-venv`) cannot hold — pulumi-policy pins another protobuf, and the CLI
runs the pack in policies/.venv — while ``doctor`` and ``first-deploy`` run there (tests/test_stacks_lock.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import yaml

from stacks import doctor
from stacks.exit_codes import Exit
from stacks.offline import changes, cost, phases, report
from stacks.offline.engine import PROJECT_DIR, OfflineError, load_config, preview, stack_names
from stacks.offline.fakes import MissingFake
from stacks.offline.lifecycle import format_critical_path
from stacks.offline.plan import Plan
from stacks.settings import BootstrapSettings, PlatformSettings, SettingsError
from stacks.settings.schema import declarations

#: The settings root of each project configured from this package, by its Pulumi.yaml name.
SETTINGS_ROOTS: dict[str, type] = {"shop-platform": PlatformSettings, "shop-bootstrap": BootstrapSettings}
STDOUT = "-"


class _Reported(Exception):
    """An error already worded for the user."""


# ---------------------------------------------------------------------------------------------- preview


def _stack_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse.ArgumentParser:
    """A subcommand about one stack: the ``stack`` argument and ``--project-dir`` every such command takes."""
    command = commands.add_parser(name, help=help)
    command.add_argument("stack", help="stack name: Pulumi.STACK.yaml must exist")
    command.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml (default: this project)"
    )
    return command


def _require_stack(stack: str, project_dir: Path, flag: str = "") -> None:
    """Raises ``_Reported`` (exit 2) unless ``Pulumi.STACK.yaml`` exists."""
    known = stack_names(project_dir)
    if stack not in known:
        raise _Reported(
            f"{flag}unknown stack '{stack}': there is no Pulumi.{stack}.yaml "
            f"(known stacks: {', '.join(known) or 'none'})"
        )


def _add_preview(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = _stack_command(
        commands, "preview", help="evaluate a stack offline: what it would create, or what changes"
    )
    command.add_argument("--against", metavar="REV", help="show what changed since git revision REV (its own code)")
    command.add_argument("--diff-json", metavar="FILE", help="with --against: write the change as JSON ('-': stdout)")
    command.add_argument("--json", metavar="FILE", help="write the plan as JSON ('-': stdout)")
    command.add_argument("--manifests", type=Path, metavar="DIR", help="write every Kubernetes object as YAML")
    command.add_argument("--diff", metavar="OTHER_STACK", help="compare with another stack")
    command.add_argument("--policy", action="store_true", help="check the plan with the CrossGuard pack (policies/)")
    command.add_argument(
        "--policy-config", type=Path, metavar="FILE", help="policy config (default: policies/config/STACK.json)"
    )
    command.add_argument(
        "--timeline", action="store_true", help="the critical path of a fresh deploy (typical create times)"
    )
    command.add_argument("--quiet", action="store_true", help="only the summary and warnings")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    command.set_defaults(run=_run_preview)


def _validate_preview(args: argparse.Namespace) -> list[str]:
    """Bad flags fail before anything is evaluated (raises ``_Reported``); the warnings for flags without effect."""
    for flag, stack in (("", args.stack), ("--diff ", args.diff)):
        if stack is not None:
            _require_stack(stack, args.project_dir, flag)
    if args.json == STDOUT and args.diff_json == STDOUT:
        raise _Reported("--json - and --diff-json - both want standard output: write one of them to a file")
    if args.policy_config is not None and not args.policy_config.is_file():
        raise _Reported(f"--policy-config {args.policy_config}: no such file")
    warnings = []
    if args.diff_json is not None and args.against is None:
        warnings.append("--diff-json has no effect without --against")
    if args.policy_config is not None and not (args.policy or args.against):
        warnings.append("--policy-config has no effect without --policy or --against")
    return warnings


def _policy_config(args: argparse.Namespace) -> Path:
    from stacks.offline import policy_run  # the policy pack: see the module's docstring

    return args.policy_config or policy_run.config_path(args.stack)


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


def _write_json(document: dict[str, Any], target: str) -> None:
    text = json.dumps(document, indent=2) + "\n"
    if target == STDOUT:
        sys.stdout.write(text)
    else:
        Path(target).write_text(text)


def _run_preview(args: argparse.Namespace) -> Exit:
    for warning in _validate_preview(args):
        print(f"warning: {warning}", file=sys.stderr)
    # Standard output holds only JSON when a JSON file is '-'; the human output then goes to standard error.
    out = sys.stderr if STDOUT in (args.json, args.diff_json) else sys.stdout
    if args.against is None:
        plan = _preview(args.stack, args.project_dir, args.debug)
        _print_plan(plan, args, out)
    else:
        plan = _run_against(args, out)
    if args.timeline:
        print("", format_critical_path(plan), sep="\n", file=out)
    for warning in plan.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        _write_json(plan.to_json(), args.json)
        if args.json != STDOUT:
            print(f"\nPlan written to {args.json}", file=out)
    if args.manifests:
        written = report.write_manifests(plan, args.manifests)
        print(f"{len(written)} Kubernetes manifests written to {args.manifests}", file=out)
    if args.diff:
        print("", report.diff(plan, _preview(args.diff, args.project_dir, args.debug)), sep="\n", file=out)
    if args.policy:
        print(file=out)
        as_previewed = _preview(args.stack, args.project_dir, args.debug, as_preview=True)
        return _run_policy(plan, _policy_config(args), as_previewed, out)
    return Exit.OK


def _print_plan(plan: Plan, args: argparse.Namespace, out: TextIO) -> None:
    if not args.quiet:
        print(report.tree(plan), report.summary(plan), report.outputs(plan), sep="\n\n", file=out)
    else:
        print(f"Resources:\n    {changes.summary_line({'create': len(plan.resources)})}", file=out)


def _run_against(args: argparse.Namespace, out: TextIO) -> Plan:
    """The change since ``--against``: the base is evaluated in its own process while this one evaluates the
    working tree; then both plans are compared and, with a policy config, both are checked by the pack."""
    try:
        sha = changes.resolve_revision(args.against, args.project_dir)
        with changes.BaseEvaluation(sha, args.stack, args.project_dir) as base:
            plan = _preview(args.stack, args.project_dir, args.debug)
            old, old_region = base.result()
    except changes.RevisionError as error:
        raise _Reported(str(error)) from error
    change = changes.compare(old, plan, sha)
    config = _policy_config(args)
    delta = None
    if config.is_file():
        from stacks.offline import policy_run  # the policy pack: see the module's docstring

        region = load_config(args.stack, args.project_dir.resolve())[1].get("aws:region", "us-east-1")
        try:
            delta = changes.policy_delta(old, plan, (old_region, region), config)
        except policy_run.PolicyConfigError as error:
            raise _Reported(str(error)) from error
    print(changes.render(change, quiet=args.quiet), file=out)
    if delta is not None:
        print("", changes.render_policy_delta(delta), sep="\n", file=out)
    else:
        print(f"\nno policy config at {config}: policy violations not compared", file=out)
    if args.diff_json:
        document = change.to_json()
        document["policy"] = (delta or changes.PolicyDelta()).to_json()
        _write_json(document, args.diff_json)
    return plan


def _run_policy(plan: Plan, config: Path, as_previewed: Plan, out: TextIO) -> Exit:
    from stacks.offline import policy_run  # the policy pack: see the module's docstring

    try:
        violations, text = policy_run.check(plan, config, preview_plan=as_previewed)
    except policy_run.PolicyConfigError as error:
        raise _Reported(str(error)) from error
    print(text, file=out)
    return Exit.FAILED if any(violation.mandatory for violation in violations) else Exit.OK


# ---------------------------------------------------------------------------------------------- cost


def _add_cost(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = _stack_command(commands, "cost", help="the monthly cost of a stack, or what a change adds (docs/cost.md)")
    command.add_argument("--against", metavar="REV", help="the change in cost since git revision REV (its own code)")
    command.add_argument("--json", metavar="FILE", help="write the estimate as JSON ('-': stdout)")
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    command.set_defaults(run=_run_cost)


def _run_cost(args: argparse.Namespace) -> Exit:
    """The estimate of the working tree's plan; with ``--against``, REV's plan too (evaluated as ``preview --against``
    does), both priced with this tree's price table and usage assumptions so that the delta is the change's."""
    out = sys.stderr if args.json == STDOUT else sys.stdout
    try:
        sha = changes.resolve_revision(args.against, args.project_dir) if args.against else None
        if sha is None:
            plan, base = _preview(args.stack, args.project_dir, args.debug), None
        else:
            with changes.BaseEvaluation(sha, args.stack, args.project_dir) as evaluation:
                plan = _preview(args.stack, args.project_dir, args.debug)
                base = evaluation.result()
        usage, region = cost.stack_usage(args.stack, args.project_dir.resolve())
        estimate = cost.estimate(plan, usage, region)
        before = cost.estimate(base[0], usage, base[1]) if base else None
    except (changes.RevisionError, cost.PriceError, SettingsError) as error:
        raise _Reported(str(error)) from error
    for warning in cost.stale_warning(estimate.prices, date.today()):
        print(f"warning: {warning}", file=sys.stderr)
    print(cost.render(estimate), file=out)
    document = estimate.to_json()
    if before is not None and sha is not None:
        print("", cost.render_change(before, estimate, args.against), sep="\n", file=out)
        document["against"] = cost.delta_json(before, estimate, sha)
    if args.json:
        _write_json(document, args.json)
    return Exit.OK


# ---------------------------------------------------------------------------------------------- config-schema


def _add_config_schema(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = commands.add_parser("config-schema", help="the config block of Pulumi.yaml, from the settings")
    mode = command.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail if Pulumi.yaml is out of date")
    mode.add_argument("--write", action="store_true", help="rewrite the config block of Pulumi.yaml")
    command.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR, help="directory of Pulumi.yaml, or bootstrap/"
    )
    command.set_defaults(run=_run_config_schema)


def _run_config_schema(args: argparse.Namespace) -> Exit:
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
            return Exit.FAILED
        return Exit.OK
    if args.write:
        header = {key: value for key, value in document.items() if key != "config"}
        project_file.write_text(yaml.safe_dump(header, sort_keys=False, width=110) + block)
        return Exit.OK
    print(block, end="")
    return Exit.OK


# ---------------------------------------------------------------------------------------------- doctor


def _add_doctor(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = _stack_command(
        commands, "doctor", help="before a real deploy: example values left in the stack file, tools, credentials"
    )
    command.set_defaults(run=_run_doctor)


def _run_doctor(args: argparse.Namespace) -> Exit:
    _require_stack(args.stack, args.project_dir)
    try:
        report = doctor.doctor(args.project_dir / f"Pulumi.{args.stack}.yaml", args.stack)
    except doctor.DoctorError as error:
        raise _Reported(str(error)) from error
    for note in report.notes:
        print(f"ok: {note}")
    for problem in report.problems:
        print(f"problem: {problem}", file=sys.stderr)
    if report.problems:
        print(f"{len(report.problems)} problem(s) to fix before deploying '{args.stack}'", file=sys.stderr)
        return Exit.FAILED
    return Exit.OK


# ---------------------------------------------------------------------------------------------- first-deploy


def _add_first_deploy(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    command = _stack_command(
        commands,
        "first-deploy",
        help="the --exclude flags of phase one of a fresh stack's first deploy (docs/kubernetes.md)",
    )
    command.add_argument("--debug", action="store_true", help="show tracebacks")
    command.set_defaults(run=_run_first_deploy)


def _run_first_deploy(args: argparse.Namespace) -> Exit:
    _require_stack(args.stack, args.project_dir)
    plan = _preview(args.stack, args.project_dir, args.debug)
    excludes = phases.phase_one_excludes(plan)
    if not excludes:
        raise _Reported(f"stack '{args.stack}' has nothing that needs the Kubernetes API: deploy it in one phase")
    print(" ".join(f"--exclude {urn}" for urn in excludes))
    return Exit.OK


# ---------------------------------------------------------------------------------------------- main


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stacks", description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    _add_preview(commands)
    _add_cost(commands)
    _add_config_schema(commands)
    _add_doctor(commands)
    _add_first_deploy(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except _Reported as error:
        print(f"error: {error}", file=sys.stderr)
        return Exit.BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
