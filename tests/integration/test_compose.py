"""The production shape, checked without Docker: docker-compose.yml, Dockerfile, .dockerignore.

No Docker engine is needed (nor used, even when a ``docker`` command exists):
the compose file is parsed with PyYAML and the Dockerfile and .dockerignore
are read line by line. What is checked is what would otherwise only show
when the stack is started: the four services and their start order, pinned
images, named volumes, healthchecks, environment names that docanchor
actually reads (taken from ``Settings.model_fields``), values that
``Settings`` accepts, and compose interpolation without undefined variables.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from docanchor.config import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"

SERVICES = ("anvil", "postgres", "deploy", "api")
SETTINGS_ENV_NAMES = frozenset("DOCANCHOR_" + name.upper() for name in Settings.model_fields)
ENV_NAME = re.compile(r"DOCANCHOR_[A-Z0-9_]+")
# Inside a container, listening beyond loopback is the point.
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


# --- helpers --------------------------------------------------------------------------


def interpolation_problems(text: str) -> list[str]:
    """Compose interpolations in ``text`` that need a variable the caller may not set.

    Follows the compose specification: ``$$`` is a literal dollar; ``$NAME``
    and ``${NAME}`` need NAME; ``${NAME:?msg}`` and ``${NAME?msg}`` fail when
    it is unset; ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:+alt}``
    and ``${NAME+alt}`` always give a value. A ``$`` that starts none of these
    is an error for compose, too.
    """
    problems: list[str] = []
    i = 0
    while i < len(text):
        if text[i] != "$":
            i += 1
            continue
        rest = text[i + 1 :]
        if rest.startswith("$"):
            i += 2
            continue
        bare = re.match(r"[A-Za-z_][A-Za-z0-9_]*", rest)
        if bare:
            problems.append(f"${bare.group(0)} has no default")
            i += 1 + bare.end()
            continue
        braced = re.match(r"\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}", rest)
        if braced is None:
            problems.append(f"a lone $ at {text[i : i + 20]!r}")
            i += 1
            continue
        name, modifier = braced.group(1), braced.group(2) or ""
        if not modifier:
            problems.append(f"${{{name}}} has no default")
        elif modifier.lstrip(":").startswith("?"):
            problems.append(f"${{{name}{modifier}}} fails when {name} is unset")
        i += 1 + braced.end()
    return problems


def interpolate_defaults(text: str) -> str:
    """``text`` as compose would give it with none of the variables set."""
    text = re.sub(r"(?<!\$)\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", lambda m: m.group(1), text)
    return text.replace("$$", "$")


def strings_in(value: Any) -> Iterator[str]:
    """Every string value of a parsed YAML document (compose interpolates values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment, from either compose form (mapping or KEY=VALUE list)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (str(item).split("=", 1) for item in raw)
        return {p[0]: (p[1] if len(p) > 1 else "") for p in pairs}
    return {str(k): "" if v is None else str(v) for k, v in raw.items()}


def command_words(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def flag_value(words: list[str], flag: str) -> str | None:
    for n, word in enumerate(words):
        if word == flag and n + 1 < len(words):
            return words[n + 1]
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
    return None


def named_mounts(service: Mapping[str, Any]) -> dict[str, str]:
    """{target: volume name} for the service's named-volume mounts (short or long syntax)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, str):
            source, _, target = entry.partition(":")
            target = target.split(":")[0]
        else:
            if entry.get("type", "volume") != "volume":
                continue
            source, target = str(entry.get("source", "")), str(entry["target"])
        if source and not source.startswith((".", "/", "~")):
            mounts[target] = source
    return mounts


def image_tag(image: str) -> str | None:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        whole = pending + stripped
        pending = ""
        keyword, _, args = whole.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    return instructions


def final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [n for n, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :]


def dockerignore_ignores(patterns: list[str], path: str) -> bool:
    """Whether Docker leaves ``path`` out of the build context.

    The last matching pattern decides; ``!`` re-includes; a pattern that
    matches a parent folder matches everything in it; ``*`` stays within one
    path segment and ``**`` spans any number of them.
    """

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        n = 0
        while n < len(pattern):
            if pattern.startswith("**/", n):
                out += "(?:.*/)?"
                n += 3
            elif pattern.startswith("**", n):
                out += ".*"
                n += 2
            elif pattern[n] == "*":
                out += "[^/]*"
                n += 1
            elif pattern[n] == "?":
                out += "[^/]"
                n += 1
            else:
                out += re.escape(pattern[n])
                n += 1
        return re.compile(out)

    parts = path.strip("/").split("/")
    candidates = ["/".join(parts[: k + 1]) for k in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        compiled = regex(pattern.strip().strip("/"))
        if any(compiled.fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return [s for s in (line.strip() for line in lines) if s and not s.startswith("#")]


# --- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml is not a mapping"
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose.get("services")
    assert isinstance(found, dict), "docker-compose.yml has no services"
    return found


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))


# --- the helpers themselves -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ("plain", 0),
        ("${HOME}", 1),
        ("$HOME/x", 1),
        ("${PORT:-8000}", 0),
        ("${PORT-8000}", 0),
        ("${FLAG:+on}", 0),
        ("${PASSWORD:?set it}", 1),
        ("${PASSWORD?set it}", 1),
        ("$${NOT_A_VARIABLE} and $$HOME", 0),
        ("a ${A:-1} b ${B} c $C", 2),
        ("postgresql://u:${PW:-x}@db/${DB}", 1),
        ("costs 5$", 1),
    ],
)
def test_interpolation_checker(text: str, problems: int) -> None:
    assert len(interpolation_problems(text)) == problems, interpolation_problems(text)


def test_dockerignore_matcher() -> None:
    patterns = ["*", "!src/", "src/**/__pycache__"]
    assert dockerignore_ignores(patterns, ".venv/bin/python")
    assert not dockerignore_ignores(patterns, "src/pkg/mod.py")
    assert dockerignore_ignores(patterns, "src/pkg/__pycache__/mod.pyc")
    reincluded = [*patterns, "!src/pkg/__pycache__"]
    assert not dockerignore_ignores(reincluded, "src/pkg/__pycache__/mod.pyc")


# --- docker-compose.yml ---------------------------------------------------------------


def test_the_four_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert set(SERVICES) <= set(services), sorted(services)


def test_named_volumes_are_declared(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    used = {name for s in services.values() for name in named_mounts(s).values()}
    assert used, "no service keeps its data on a named volume"
    assert used <= declared, f"undeclared volumes: {sorted(used - declared)}"
    for name in ("anvil", "postgres", "api", "deploy"):
        assert named_mounts(services[name]), f"{name} has no named volume"


def test_anvil_is_pinned_and_keeps_its_chain(services: dict[str, dict[str, Any]]) -> None:
    anvil = services["anvil"]
    image = str(anvil["image"])
    assert image.startswith("ghcr.io/foundry-rs/foundry:"), image
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/@foundry-rs/anvil"]["version"]
    assert image_tag(image) == f"v{pinned}", f"{image} is not the Anvil of package-lock ({pinned})"

    words = command_words(anvil.get("entrypoint")) + command_words(anvil.get("command"))
    assert "anvil" in words[0], words
    assert flag_value(words, "--host") == ALL_INTERFACES
    assert flag_value(words, "--chain-id") == "31337"
    assert flag_value(words, "--state-interval") == "1"
    state = flag_value(words, "--state")
    assert state is not None
    mounts = named_mounts(anvil)
    holder = [t for t in mounts if state.startswith(t.rstrip("/") + "/")]
    assert holder, f"the state file {state} is not on a named volume ({mounts})"


def test_postgres_is_pinned_with_a_volume_and_a_healthcheck(
    services: dict[str, dict[str, Any]],
) -> None:
    postgres = services["postgres"]
    tag = image_tag(str(postgres["image"]))
    assert str(postgres["image"]).startswith("postgres:") and tag is not None
    assert re.match(r"\d+\.\d+", tag), f"postgres is not pinned to a minor version: {tag}"
    assert any("postgresql" in target for target in named_mounts(postgres))
    test = command_words(postgres["healthcheck"]["test"])
    assert "pg_isready" in test, test


def test_no_image_floats(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        if "image" not in service or "build" in service:
            continue
        tag = image_tag(str(service["image"]))
        assert tag not in (None, "latest", "nightly", "stable"), f"{name}: {service['image']}"


def test_api_and_deploy_run_the_repository_image(services: dict[str, dict[str, Any]]) -> None:
    for name in ("api", "deploy"):
        build = services[name].get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context in (".", "./"), f"{name} is not built from the repository: {build}"
    assert services["api"]["image"] == services["deploy"]["image"]
    assert command_words(services["deploy"]["command"]) == ["deploy"]
    serve = command_words(services["api"]["command"])
    assert serve[0] == "serve" and flag_value(serve, "--host") == ALL_INTERFACES, serve


def test_start_order(services: dict[str, dict[str, Any]]) -> None:
    api_deps = services["api"]["depends_on"]
    assert api_deps["deploy"]["condition"] == "service_completed_successfully"
    assert api_deps["postgres"]["condition"] == "service_healthy"
    deploy_deps = services["deploy"]["depends_on"]
    assert deploy_deps["anvil"]["condition"] in ("service_healthy", "service_started")
    for deps in (api_deps, deploy_deps):
        for dependency, rule in deps.items():
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    assert services["deploy"].get("restart", "no") == "no", "a one-shot must not restart"


def test_api_healthcheck_asks_healthz_on_the_served_port(
    services: dict[str, dict[str, Any]],
) -> None:
    api = services["api"]
    test = " ".join(command_words(api["healthcheck"]["test"]))
    assert "urllib" in test and "/healthz" in test, test
    port = flag_value(command_words(api["command"]), "--port") or "8000"
    assert f":{port}/healthz" in test
    published = [str(p) for p in api.get("ports", [])]
    assert any(p.endswith(f":{port}") for p in published), published


def test_environment_names_are_settings_fields(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    used: set[str] = set()
    for service in services.values():
        used |= {k for k in environment(service) if k.startswith("DOCANCHOR_")}
    # Names given through interpolation or in comments must be real ones too.
    used |= set(ENV_NAME.findall(COMPOSE_FILE.read_text(encoding="utf-8")))
    assert used, "the compose file configures no DOCANCHOR_* variable"
    assert used <= SETTINGS_ENV_NAMES, f"not settings: {sorted(used - SETTINGS_ENV_NAMES)}"


def test_api_and_deploy_share_the_data_dir(services: dict[str, dict[str, Any]]) -> None:
    volumes = []
    for name in ("api", "deploy"):
        data_dir = environment(services[name])["DOCANCHOR_DATA_DIR"]
        mounts = named_mounts(services[name])
        assert data_dir in mounts, f"{name}: {data_dir} is not a named volume ({mounts})"
        volumes.append(mounts[data_dir])
    assert volumes[0] == volumes[1], volumes


def test_endpoints_point_at_the_services(services: dict[str, dict[str, Any]]) -> None:
    anvil_port = (
        flag_value(
            command_words(services["anvil"].get("entrypoint"))
            + command_words(services["anvil"]["command"]),
            "--port",
        )
        or "8545"
    )
    postgres_env = environment(services["postgres"])
    for name in ("api", "deploy"):
        rpc = urlsplit(environment(services[name])["DOCANCHOR_RPC_URL"])
        assert (rpc.hostname, str(rpc.port)) == ("anvil", anvil_port), rpc
    db = urlsplit(interpolate_defaults(environment(services["api"])["DOCANCHOR_DATABASE_URL"]))
    assert db.scheme == "postgresql+psycopg" and db.hostname == "postgres"
    assert db.username == postgres_env["POSTGRES_USER"]
    assert db.path.lstrip("/") == postgres_env["POSTGRES_DB"]
    assert db.password == interpolate_defaults(postgres_env["POSTGRES_PASSWORD"])


@pytest.mark.parametrize("name", ["api", "deploy"])
def test_settings_accept_the_service_environment(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("DOCANCHOR_"):
            monkeypatch.delenv(key)
    values = {k: interpolate_defaults(v) for k, v in environment(services[name]).items()}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.chain_id == 31337
    assert str(settings.data_dir) == values["DOCANCHOR_DATA_DIR"]
    assert settings.rpc_url == values["DOCANCHOR_RPC_URL"]
    # No key is configured: the development key, which connect_chain accepts on 31337 only.
    assert settings.private_key is None and settings.keystore is None


def test_no_undefined_interpolation(compose: dict[str, Any]) -> None:
    problems = [p for text in strings_in(compose) for p in interpolation_problems(text)]
    assert problems == []


# --- Dockerfile and .dockerignore -----------------------------------------------------


def test_dockerfile_base_is_a_pinned_slim_python_311(dockerfile: list[tuple[str, str]]) -> None:
    bases = [args.split()[0] for keyword, args in dockerfile if keyword == "FROM"]
    assert bases
    for base in bases:
        assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-[a-z]+)?", base), base


def test_dockerfile_runs_as_a_non_root_user(dockerfile: list[tuple[str, str]]) -> None:
    users = [args.split(":")[0] for keyword, args in final_stage(dockerfile) if keyword == "USER"]
    assert users, "the final stage has no USER"
    assert users[-1] not in ("root", "0"), users


def test_dockerfile_installs_a_pinned_plain_wheel(dockerfile: list[tuple[str, str]]) -> None:
    installs = [
        shlex.split(args.split("&&")[0])
        for keyword, args in dockerfile
        if keyword == "RUN" and "pip install" in args
    ]
    assert installs, "no pip install in the Dockerfile"
    for words in installs:
        assert flag_value(words, "-c") == "requirements.lock", words
        assert "." in words, f"not an install of the project: {words}"
        assert "-e" not in words and "--editable" not in words, words


def test_a_healthcheck_asks_healthz(
    dockerfile: list[tuple[str, str]], services: dict[str, dict[str, Any]]
) -> None:
    in_image = [args for keyword, args in final_stage(dockerfile) if keyword == "HEALTHCHECK"]
    in_compose = " ".join(command_words(services["api"]["healthcheck"]["test"]))
    assert any("/healthz" in args for args in in_image) or "/healthz" in in_compose


def test_dockerfile_environment_names_are_settings_fields(
    dockerfile: list[tuple[str, str]],
) -> None:
    names = {n for keyword, args in dockerfile if keyword == "ENV" for n in ENV_NAME.findall(args)}
    assert names <= SETTINGS_ENV_NAMES, sorted(names - SETTINGS_ENV_NAMES)


def test_build_context_holds_what_the_build_needs_and_no_secrets(
    dockerfile: list[tuple[str, str]],
) -> None:
    patterns = dockerignore_patterns()
    for secret in (
        ".docanchor/receipt-signing-key.pem",
        ".docanchor/deployment.json",
        ".docanchor/docanchor.sqlite3",
        ".venv/bin/python",
        "node_modules/.bin/anvil",
        ".git/HEAD",
        "src/docanchor/__pycache__/config.cpython-311.pyc",
    ):
        assert dockerignore_ignores(patterns, secret), f"{secret} would be sent to the build"
    copied = [
        word
        for keyword, args in dockerfile
        if keyword == "COPY" and "--from" not in args
        for word in args.split()[:-1]
    ]
    assert copied, "the Dockerfile copies nothing from the context"
    package_files = [
        "src/docanchor/contracts/DocumentAnchor.json",
        "src/docanchor/contracts/DocumentAnchorV1.json",
        "src/docanchor/web/index.html",
        "src/docanchor/migrations/env.py",
        *(
            str(p.relative_to(REPO))
            for p in (REPO / "src/docanchor/migrations/versions").glob("*.py")
        ),
    ]
    for path in [*copied, *package_files]:
        assert (REPO / path).exists(), f"{path} does not exist"
        assert not dockerignore_ignores(patterns, path), f"{path} is left out of the build"
