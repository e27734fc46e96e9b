"""docker-compose.yml and the RabbitMQ definitions, read as a deployer's Compose would.

What Compose itself accepts is checked by ``.ci/compose-check``; here: the promises the
file makes (a service per role, health checks, restarts, volumes, a RabbitMQ user per
service and no ``guest``, replicas possible) and that the users' permissions fit the
topology the services declare.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from shared import topology
from shared.runtime import IDENTITY_READERS
from shared.settings import IntakeSettings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LAPOR_SERVICES = ("intake", "verification", "routing", "escalation")
KEY = base64.b64encode(bytes(32)).decode()
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``, for these tests."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if env.get(name):
            return env[name]
        if operator in (":?", "?"):
            raise LookupError(f"{name}: {argument}")
        return argument or ""

    return VARIABLE.sub(substitute, value)


def secrets_env() -> dict[str, str]:
    """What a filled-in .env gives: every empty variable of .env.example, set."""
    names = re.findall(r"^([A-Z][A-Z0-9_]*)=$", (ROOT / ".env.example").read_text(), re.M)
    return {name: f"{name.lower()}-0123456789" for name in names}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = interpolate(raw, secrets_env())
    return data


@pytest.fixture(scope="module")
def definitions() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "deploy/rabbitmq/definitions.json").read_text())
    return data


def amqp_user(compose: dict[str, Any], service: str) -> str:
    url = compose["services"][service]["environment"]["LAPOR_AMQP_URL"]
    return urlsplit(url).username or ""


def test_it_runs_the_broker_the_database_and_every_service(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {
        "rabbitmq", "mongodb", "topology", *LAPOR_SERVICES, "portal"
    }  # fmt: skip
    assert compose["services"]["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert compose["services"]["mongodb"]["image"] == "mongo:7"
    for name in LAPOR_SERVICES:
        service = compose["services"][name]
        assert service["command"] == ["run", name]
        assert service["build"]["context"] == "."


def test_every_service_has_a_health_check_and_restarts(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name == "topology":
            continue  # a one-shot step, below
        assert service["healthcheck"]["test"][0] == "CMD", name
        assert service["restart"] == "unless-stopped", name
    for name in LAPOR_SERVICES:
        test = compose["services"][name]["healthcheck"]["test"]
        assert test[1:3] == ["lapor", "health"], name


def test_the_services_start_once_the_broker_and_database_are_healthy(
    compose: dict[str, Any],
) -> None:
    for name in LAPOR_SERVICES:
        depends = compose["services"][name]["depends_on"]
        assert depends == {
            "rabbitmq": {"condition": "service_healthy"},
            "mongodb": {"condition": "service_healthy"},
            "topology": {"condition": "service_completed_successfully"},
        }


def test_the_topology_is_declared_once_by_the_admin_before_the_services(
    compose: dict[str, Any],
) -> None:
    step = compose["services"]["topology"]
    # issue 10: the same step gives channels, agencies and the portal their broker users.
    assert step["command"][:3] == ["access", "apply", "--declare-topology"]
    assert step["command"][3:] == ["--passwords", "/secrets/broker-passwords.txt"]
    assert any(v.endswith(":/secrets") for v in step["volumes"])
    assert step["environment"]["LAPOR_RABBITMQ_MANAGEMENT_URL"] == "http://rabbitmq:15672"
    assert step["restart"] == "no"
    assert step["healthcheck"] == {"disable": True}
    assert step["depends_on"] == {
        "rabbitmq": {"condition": "service_healthy"},
        "mongodb": {"condition": "service_healthy"},  # the agencies collection
    }
    assert urlsplit(step["environment"]["LAPOR_AMQP_URL"]).username == "lapor-admin"
    # ...and the admin's console: `docker compose run --rm topology agencies load --sample`
    assert (
        step["environment"]["LAPOR_MONGO_URL"]
        == (compose["services"]["routing"]["environment"]["LAPOR_MONGO_URL"])
    )
    for name in LAPOR_SERVICES:
        assert compose["services"][name]["environment"]["LAPOR_DECLARE_TOPOLOGY"] == "false"


def test_the_mongodb_health_check_makes_the_replica_set_once(compose: dict[str, Any]) -> None:
    mongodb = compose["services"]["mongodb"]
    assert mongodb["command"][:2] == ["--replSet", "rs0"]
    script = mongodb["healthcheck"]["test"][-1]
    assert "rs.initiate" in script
    assert "isWritablePrimary" in script
    for name in LAPOR_SERVICES:
        url = compose["services"][name]["environment"]["LAPOR_MONGO_URL"]
        assert "replicaSet=rs0" in url


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    expected = {"rabbitmq": "/var/lib/rabbitmq", "mongodb": "/data/db"}
    for name, target in expected.items():
        sources = {
            volume.split(":")[0]
            for volume in compose["services"][name]["volumes"]
            if volume.split(":")[1] == target
        }
        assert sources and sources <= declared, name
    # The node name (and so its data directory) must survive re-creating the container.
    assert compose["services"]["rabbitmq"]["hostname"] == "rabbitmq"


def test_each_service_has_its_own_rabbitmq_user_and_none_is_guest(
    compose: dict[str, Any],
) -> None:
    users = [amqp_user(compose, name) for name in LAPOR_SERVICES]
    assert len(set(users)) == len(users)
    assert "guest" not in users
    for name in LAPOR_SERVICES:
        url = urlsplit(compose["services"][name]["environment"]["LAPOR_AMQP_URL"])
        assert url.path == "/lapor"
        assert url.password, f"{name}: a password from the environment"
        assert url.hostname == "rabbitmq"


def test_only_the_services_that_read_identity_get_the_identity_key(raw: dict[str, Any]) -> None:
    for name, service in raw["services"].items():
        env = service.get("environment") or {}
        assert ("LAPOR_PII_KEY" in env) == (name in ("intake", "routing")), name


def test_every_container_has_a_memory_limit(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert re.fullmatch(r"\d+[mg]", service["mem_limit"]), name


def test_the_services_authorise_senders(compose: dict[str, Any]) -> None:
    for name in (*LAPOR_SERVICES, "topology"):
        assert compose["services"][name]["environment"]["LAPOR_SENDERS"] == "enforce", name


def test_no_secret_is_written_in_the_file(raw: dict[str, Any]) -> None:
    for name in LAPOR_SERVICES:
        env = raw["services"][name]["environment"]
        if "LAPOR_PII_KEY" in env:
            assert env["LAPOR_PII_KEY"].startswith("${LAPOR_PII_KEY:?")
        assert re.fullmatch(
            r"amqp://[a-z-]+:\$\{LAPOR_RABBITMQ_[A-Z]+_PASSWORD:\?[^}]+\}@rabbitmq:5672/lapor",
            env["LAPOR_AMQP_URL"],
        )
    for value in raw["services"]["rabbitmq"]["environment"].values():
        assert value.startswith("${") and ":?" in value


def test_compose_refuses_to_start_without_the_pii_key(raw: dict[str, Any]) -> None:
    env = secrets_env()
    del env["LAPOR_PII_KEY"]
    with pytest.raises(LookupError, match="LAPOR_PII_KEY"):
        interpolate(raw, env)


def test_services_can_be_scaled(compose: dict[str, Any]) -> None:
    for name in LAPOR_SERVICES:
        service = compose["services"][name]
        assert "container_name" not in service, name
        assert "ports" not in service, name


def test_the_definitions_create_each_services_user_and_no_guest(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    users = {user["name"] for user in definitions["users"]}
    assert "guest" not in users
    assert [vhost["name"] for vhost in definitions["vhosts"]] == ["lapor"]
    granted = {p["user"] for p in definitions["permissions"] if p["vhost"] == "lapor"}
    for name in LAPOR_SERVICES:
        user = amqp_user(compose, name)
        assert user in users and user in granted, user
    for user in definitions["users"]:
        assert "password_hash" not in user
        assert re.fullmatch(r"\{\{LAPOR_RABBITMQ_[A-Z]+_PASSWORD\}\}", user["password"])


def test_each_users_password_is_the_one_its_service_connects_with(
    raw: dict[str, Any], definitions: dict[str, Any]
) -> None:
    placeholders = {u["name"]: u["password"].strip("{}") for u in definitions["users"]}
    for name in LAPOR_SERVICES:
        url = raw["services"][name]["environment"]["LAPOR_AMQP_URL"]
        user = url.removeprefix("amqp://").split(":")[0]
        assert f"${{{placeholders[user]}:?" in url
        assert placeholders[user] in raw["services"]["rabbitmq"]["environment"]


def _permissions(definitions: dict[str, Any], user: str) -> dict[str, str]:
    [grant] = [p for p in definitions["permissions"] if p["user"] == user]
    return {kind: str(grant[kind]) for kind in ("configure", "write", "read")}


def _allows(pattern: str, name: str) -> bool:
    return re.search(pattern, name) is not None  # RabbitMQ matches anywhere, like search


def consumed_queues(service: str) -> set[str]:
    """The queues the service's own code subscribes to (read from its FastStream app)."""
    app = importlib.import_module(f"services.{service}.app")
    # Nothing connects until the service starts.
    settings = IntakeSettings(
        amqp_url="amqp://nobody@localhost:1/", mongo_url="mongodb://localhost:1/", pii_key=KEY
    )
    built = app.create(settings)
    return {subscriber.queue.name for subscriber in built.context.broker.subscribers}


@pytest.mark.parametrize("service", LAPOR_SERVICES)
def test_each_service_may_read_its_own_queues_and_no_other(
    service: str, compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    grant = _permissions(definitions, amqp_user(compose, service))
    own = consumed_queues(service)
    assert own, service
    others = {spec.name for spec in topology.QUEUES} - own
    for queue in own:
        assert _allows(grant["read"], queue), (service, queue)
    for queue in others:
        assert not _allows(grant["read"], queue), (service, queue)
    # A channel's own queue holds its reporters' contacts: no service reads it.
    assert not _allows(grant["read"], "channel.email"), service


def test_no_service_may_create_or_delete_the_topology(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    # `topology` declared it as lapor-admin; configure also covers delete and purge.
    for name in LAPOR_SERVICES:
        grant = _permissions(definitions, amqp_user(compose, name))
        for resource in (*topology.EXCHANGES, *(spec.name for spec in topology.QUEUES)):
            assert not _allows(grant["configure"], resource), (name, resource)


def test_services_may_publish_what_their_outboxes_hold_but_no_report_or_command(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    # Any replica's outbox relay may publish any service's pending messages, so each
    # service may write every exchange a service publishes to. Reports and commands come
    # from outside (channels, consoles, agencies): no service may forge them.
    for name in LAPOR_SERVICES:
        grant = _permissions(definitions, amqp_user(compose, name))
        for exchange in (topology.EVENTS, topology.OUTBOUND, topology.OPD, topology.OVERSIGHT):
            assert _allows(grant["write"], exchange), (name, exchange)
        for exchange in (topology.INTAKE, topology.COMMANDS):
            assert not _allows(grant["write"], exchange), (name, exchange)
        for spec in topology.QUEUES:  # writing a queue means binding it to anything
            assert not _allows(grant["write"], spec.name), (name, spec.name)


def test_only_the_services_holding_the_identity_key_may_dead_letter_sealed(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    # A refused message that names a reporter is dead-lettered sealed by the service that
    # refused it, through lapor.refused (shared/sealed_letters.py): intake and routing.
    for name in LAPOR_SERVICES:
        grant = _permissions(definitions, amqp_user(compose, name))
        may = name in IDENTITY_READERS
        assert _allows(grant["write"], topology.REFUSED) == may, name
        assert not _allows(grant["write"], topology.SEALED_REFUSALS), name


def test_only_routing_may_declare_agency_queues(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    # Declaring opd.<code> with its dead-letter exchange and binding it to lapor.opd
    # needs configure, read and write on the queue, write on lapor.dlx, read on lapor.opd.
    # The same for the liaison's reminder queue penghubung.<code>, bound to lapor.oversight.
    for agency in (spec.name for spec in topology.agency_queues("dinkes-sumsel")):
        for name in LAPOR_SERVICES:
            grant = _permissions(definitions, amqp_user(compose, name))
            is_routing = name == "routing"
            assert _allows(grant["configure"], agency) == is_routing, (name, agency)
            assert _allows(grant["write"], agency) == is_routing, (name, agency)
            assert _allows(grant["read"], agency) == is_routing, (name, agency)
    assert _allows(
        _permissions(definitions, amqp_user(compose, "routing"))["read"], "lapor.oversight"
    )
    for name in LAPOR_SERVICES:
        grant = _permissions(definitions, amqp_user(compose, name))
        is_routing = name == "routing"
        assert _allows(grant["write"], topology.DLX) == is_routing, name
        assert _allows(grant["read"], topology.OPD) == is_routing, name
    routing = _permissions(definitions, amqp_user(compose, "routing"))
    assert not _allows(routing["configure"], "opd.x.y"), "only opd.<code>, one level"


def test_the_broker_renders_its_definitions_from_the_environment(compose: dict[str, Any]) -> None:
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["entrypoint"] == ["bash", "/etc/lapor/rabbitmq/entrypoint.sh"]
    assert "/run/lapor" in rabbitmq["tmpfs"]
    conf = (ROOT / "deploy/rabbitmq/rabbitmq.conf").read_text()
    assert re.search(r"^load_definitions\s*=\s*/run/lapor/definitions.json$", conf, re.M)
    mounts = {v.split(":")[1]: v.split(":")[0] for v in rabbitmq["volumes"]}
    assert mounts["/etc/lapor/rabbitmq"] == "./deploy/rabbitmq"
    assert mounts["/etc/rabbitmq/conf.d/90-lapor.conf"] == "./deploy/rabbitmq/rabbitmq.conf"


# --- issue 12: compose passes every setting -------------------------------------------------

LAPOR_ENV = ROOT / "deploy/lapor.env"
SETTING_LINE = re.compile(r"^#?(LAPOR_[A-Z0-9_]+)=(.*)$")


def _lapor_env_lines() -> dict[str, str]:
    """Every LAPOR_* line of deploy/lapor.env, commented or not: name -> example value."""
    found = {}
    for line in LAPOR_ENV.read_text(encoding="utf-8").splitlines():
        if match := SETTING_LINE.match(line.strip()):
            found[match.group(1)] = match.group(2)
    return found


def test_every_service_reads_the_settings_file_and_it_holds_no_secret(
    compose: dict[str, Any],
) -> None:
    for name in LAPOR_SERVICES:
        assert compose["services"][name]["env_file"] == ["./deploy/lapor.env"], name
    text = LAPOR_ENV.read_text(encoding="utf-8")
    for secret in ("LAPOR_PII_KEY", "PASSWORD", "LAPOR_AMQP_URL", "LAPOR_MONGO_URL"):
        assert f"{secret}=" not in text and not re.search(rf"^#?\w*{secret}\w*=", text, re.M)


def test_no_setting_of_the_file_is_blanked_by_a_bare_name_in_environment(
    raw: dict[str, Any],
) -> None:
    # Compose gives `environment` precedence over env_file, and a bare `NAME:` unset in .env
    # becomes null: the file's value would never reach the container.
    listed = set(_lapor_env_lines())
    for name in LAPOR_SERVICES:
        environment = raw["services"][name]["environment"]
        assert listed & set(environment) == set(), name


def test_every_sla_and_verification_setting_is_listed_for_the_deployer() -> None:
    from services.verification.policy import VerificationPolicy
    from shared.sla import SlaPolicy

    listed = set(_lapor_env_lines())
    wanted = {f"LAPOR_SLA__{f.upper()}" for f in SlaPolicy.model_fields} | {
        f"LAPOR_VERIFICATION__{f.upper()}" for f in VerificationPolicy.model_fields
    }
    assert wanted - listed == set()
    assert listed - wanted == set(), "a listed setting the code does not know"


def test_the_listed_example_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.verification.settings import VerificationSettings

    for name, value in _lapor_env_lines().items():
        if value and "..." not in value:
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("LAPOR_SLA__DEFERRAL_DAYS", "7")  # and a changed one is read
    settings = VerificationSettings()
    assert settings.sla.deferral_days == 7
    assert settings.verification.min_meaningful_words == 6


def test_the_holidays_file_is_mounted_read_only_where_the_setting_points(
    compose: dict[str, Any],
) -> None:
    from shared.calendar import load_extra_holidays

    for name in LAPOR_SERVICES:
        service = compose["services"][name]
        target = service["environment"]["LAPOR_HOLIDAYS_FILE"]
        [mount] = [v for v in service["volumes"] if v.split(":")[1] == target]
        source, _, mode = mount.split(":")
        assert mode == "ro" and service["read_only"] is True, name
        assert load_extra_holidays(ROOT / source) == [], "the shipped file adds no day"


def test_the_deployment_notes_explain_the_settings_file_and_the_holidays() -> None:
    notes = (ROOT / "deploy/README.md").read_text(encoding="utf-8")
    for needed in (
        "deploy/lapor.env",
        "LAPOR_HOLIDAYS_FILE",
        "deploy/holidays.yaml",
        "LAPOR_HOLIDAYS_SOURCE",
        "LAPOR_SLA__DEFERRAL_DAYS",
        "LAPOR_VERIFICATION__",
    ):
        assert needed in notes, needed


def test_the_portal_serves_http_with_a_health_check_and_its_own_least_privilege_user(
    compose: dict[str, Any], definitions: dict[str, Any]
) -> None:
    portal = compose["services"]["portal"]
    assert portal["command"] == ["run", "portal"]
    assert portal["restart"] == "unless-stopped"
    test = portal["healthcheck"]["test"]
    assert test[:3] == ["CMD", "lapor", "health"]
    assert test[test.index("--http") + 1] == "http://127.0.0.1:8080/healthz"
    assert portal["ports"] == ["127.0.0.1:8080:8080"]
    env = portal["environment"]
    assert (env["LAPOR_PORTAL_HOST"], env["LAPOR_PORTAL_PORT"]) == ("0.0.0.0", "8080")
    assert env["LAPOR_DECLARE_TOPOLOGY"] == "false"
    assert portal["depends_on"]["topology"] == {"condition": "service_completed_successfully"}
    user = amqp_user(compose, "portal")
    assert user == "lapor-portal"
    assert user not in {amqp_user(compose, name) for name in LAPOR_SERVICES}
    url = IntakeSettings(amqp_url=env["LAPOR_AMQP_URL"], pii_key=KEY).amqp_url
    placeholders = {u["name"]: u["password"].strip("{}") for u in definitions["users"]}
    assert urlsplit(url.get_secret_value()).password == secrets_env()[placeholders[user]]
    grant = _permissions(definitions, user)
    # It is the web and Open311 channel: it publishes reports and reporters' replies...
    for exchange in (topology.INTAKE, topology.COMMANDS):
        assert _allows(grant["write"], exchange), exchange
    # ...reads only its own notice queues and the staff area's oversight inbox, and creates,
    # deletes and forges nothing else.
    own = {topology.PORTAL_WEB.name, topology.PORTAL_OPEN311.name, topology.PORTAL_OVERSIGHT.name}
    for spec in topology.QUEUES:
        assert _allows(grant["read"], spec.name) == (spec.name in own), spec.name
        assert not _allows(grant["configure"], spec.name), spec.name
        assert not _allows(grant["write"], spec.name), spec.name
    for exchange in (topology.EVENTS, topology.OUTBOUND, topology.OPD, topology.DLX):
        assert not _allows(grant["write"], exchange), exchange
