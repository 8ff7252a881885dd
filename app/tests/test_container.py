"""The container contract, checked statically on the parsed Dockerfile (no Docker engine here): pinned base,
non-root, read-only ready, no secrets."""

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSW|CREDENTIAL|PRIVATE|AUTH|(^|_)KEY($|_)|DATABASE_URL", re.IGNORECASE)


@dataclass(frozen=True)
class Instruction:
    keyword: str
    flags: dict[str, str]
    args: str

    def words(self) -> list[str]:
        return json.loads(self.args) if self.args.startswith("[") else shlex.split(self.args)


def parse(text: str) -> list[Instruction]:
    """Dockerfile instructions as the builder reads them: comment lines dropped, continuation lines joined,
    leading `--flag=value` options split off."""
    instructions, pending = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, rest = (pending + stripped).partition(" ")
        pending, flags = "", {}
        while (rest := rest.strip()).startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
        instructions.append(Instruction(keyword.upper(), flags, rest))
    assert not pending, "the Dockerfile ends inside a continuation line"
    return instructions


INSTRUCTIONS = parse((APP_DIR / "Dockerfile").read_text())
FIRST_FROM = next(i for i, ins in enumerate(INSTRUCTIONS) if ins.keyword == "FROM")
STAGES: list[list[Instruction]] = []
for ins in INSTRUCTIONS[FIRST_FROM:]:
    if ins.keyword == "FROM":
        STAGES.append([])
    STAGES[-1].append(ins)
BUILD, RUNTIME = STAGES[0], STAGES[-1]


def of(stage: list[Instruction], keyword: str) -> list[Instruction]:
    return [ins for ins in stage if ins.keyword == keyword]


def env(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for ins in of(stage, "ENV"):
        values |= dict(word.split("=", 1) for word in ins.words())
    return values


def test_multi_stage_with_a_version_pinned_slim_base():
    assert len(STAGES) == 2  # build stage + runtime stage
    (base,) = [ins.words()[0].split("=", 1) for ins in INSTRUCTIONS[:FIRST_FROM] if ins.keyword == "ARG"]
    assert base[0] == "PYTHON_IMAGE" and re.fullmatch(r"python:3\.11\.\d+-slim-\w+@sha256:[0-9a-f]{64}", base[1])
    assert [stage[0].words()[0] for stage in STAGES] == ["${PYTHON_IMAGE}"] * 2


def test_runs_as_numeric_non_root_user_with_the_shop_entrypoint():
    users = of(RUNTIME, "USER")
    assert [u.args for u in users] == ["10001:10001"]
    assert RUNTIME.index(users[0]) > max(RUNTIME.index(ins) for ins in of(RUNTIME, "RUN"))  # nothing runs as root after
    (entrypoint,), (cmd,) = of(RUNTIME, "ENTRYPOINT"), of(RUNTIME, "CMD")
    assert entrypoint.args.startswith("[") and entrypoint.words() == ["python", "-m", "shop"]
    assert cmd.words() == ["serve"]


def test_read_only_root_filesystem_needs_only_tmp():
    """Nothing writes outside /tmp at run time: byte-code is compiled in the build stage for exactly the tree the
    runtime stage copies, Python never writes .pyc files, and every writable location points into /tmp."""
    runtime_env = env(RUNTIME)
    assert runtime_env["PYTHONDONTWRITEBYTECODE"] == "1"
    for name in ("HOME", "TMPDIR", "SHOP_MEDIA_DIR"):
        assert re.fullmatch(r"/tmp(/.*)?", runtime_env[name]), name
    copied = {ins.words()[0] for ins in of(RUNTIME, "COPY") if ins.flags.get("from") == "build"}
    assert copied == {"/opt/venv", "/opt/app"}
    (compile_step,) = [ins for ins in of(BUILD, "RUN") if "compileall" in ins.words()]
    app_sources = {ins.words()[-1] for ins in of(BUILD, "COPY") if ins.words()[0] == "shop"}
    assert app_sources == {"/opt/app/shop"} and {"/opt/venv", *app_sources} <= set(compile_step.words())
    assert not of(RUNTIME, "VOLUME")  # an anonymous volume would be a second writable path


def test_no_secrets_baked_in_and_a_tight_build_context():
    for ins in INSTRUCTIONS:
        if ins.keyword in ("ENV", "ARG"):
            for word in ins.words():
                assert not SECRET_NAME.search(word.split("=", 1)[0]), ins
    sources = {ins.words()[0] for ins in INSTRUCTIONS if ins.keyword == "COPY" and "from" not in ins.flags}
    assert sources == {"requirements.lock", "shop"}
    ignore = (APP_DIR / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") :][:3] == ["*", "!requirements.lock", "!shop/"]


def test_requirements_are_fully_pinned():
    for name in ("requirements.txt", "requirements-test.txt"):
        for line in (APP_DIR / name).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line.strip()), line


def test_the_rds_ca_bundle_is_in_the_runtime_image_readable_by_the_shop_user():
    """SHOP_DB_SSL_ROOT_CERT (sslmode=verify-full) points here in the cluster."""
    (bundle,) = [ins for ins in INSTRUCTIONS if ins.keyword == "ADD"]
    assert bundle in RUNTIME  # the runtime stage, not only the build stage
    source, target = bundle.words()
    assert source == "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"
    assert int(bundle.flags["chmod"], 8) & 0o004  # root's file, read by UID 10001
    assert not target.startswith("/tmp/")  # the cluster mounts an emptyDir over /tmp
