"""Open311 GeoReport v2, spoken the way FixMyStreet's client speaks it.

FixMyStreet appends ``services.xml`` and the like to the base URL, sends
``jurisdiction_id`` on every call, ``api_key`` only in POST bodies (form-encoded), puts
the title first in ``description`` with CRLF line breaks, reads ``service_request_id`` or
``token`` as plain text, and skips a listed request without ``lat``, ``long`` and
``updated_datetime``. Every endpoint is exercised in JSON and XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import pytest

from services.portal.apikeys import create_key
from services.portal.store import PortalStore
from shared import topology
from shared.storage import Store
from tests.portal.conftest import RunningPortal
from tests.portal.support import ROAD_AGENCY, agency_resolves, case_in_status
from tests.support import Listener, eventually, publish

pytestmark = pytest.mark.e2e

BASE = "/open311/v2"
JURISDICTION = {"jurisdiction_id": "sumsel.lapor.go.id"}
REPORTER = {
    "first_name": "Budi",
    "last_name": "Santoso",
    "email": "budi.santoso@example.id",
    "phone": "081234567890",
}
IDENTITY = ("Budi", "Santoso", "budi.santoso", "081234567890", "+6281234567890")


def fms_post(api_key: str | None, **fields: str) -> dict[str, str]:
    """The body FixMyStreet's Open311 client posts for a new report."""
    body = {
        **JURISDICTION,
        "service_code": "jalan",
        "lat": "-2.9761234",
        "long": "104.7754321",
        "address_string": "Jl. Mayor Zen, Kalidoni, Palembang",
        "description": "Jalan berlubang di Jl. Mayor Zen\r\n\r\nLubang besar dan dalam sejak "
        "sebulan di Kalidoni; dua pengendara motor sudah jatuh malam hari.",
        **REPORTER,
        "media_url": "https://fixmystreet.example.id/photo/123.jpeg",
        "attribute[anonim]": "false",
    }
    if api_key is not None:
        body["api_key"] = api_key
    return body | fields


@pytest.fixture
async def api_key(store: Store) -> str:
    """A key for the client ``fixmystreet``, made as ``lapor apikey create`` makes it."""
    return await create_key(PortalStore(store.db), "fixmystreet", datetime.now(UTC))


def xml_items(answer: httpx.Response, item: str) -> list[dict[str, str]]:
    """The items of an XML list answer, each as {child tag: text}."""
    root = ET.fromstring(answer.content)
    return [{child.tag: child.text or "" for child in entry} for entry in root.iter(item)]


async def post_and_get_id(client: httpx.AsyncClient, api_key: str, **fields: str) -> str:
    """POST a request in XML and follow its token until intake has given it an ID."""
    answer = await client.post(f"{BASE}/requests.xml", data=fms_post(api_key, **fields))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    [entry] = xml_items(answer, "request")
    if "service_request_id" in entry:
        return entry["service_request_id"]
    token = entry["token"]

    async def resolved() -> str | None:
        found = await client.get(f"{BASE}/tokens/{token}.xml", params=JURISDICTION)
        assert found.status_code == 200
        [item] = xml_items(found, "request")
        return item.get("service_request_id")

    request_id: str = await eventually(resolved, timeout=20)
    return request_id


async def test_discovery_and_services_in_json_and_xml(portal: RunningPortal) -> None:
    async with portal.client() as client:
        discovery = (await client.get(f"{BASE}/discovery.json", params=JURISDICTION)).json()
        assert discovery["endpoints"][0]["url"] == f"{portal.url}{BASE}"
        assert "text/xml" in discovery["endpoints"][0]["formats"]
        xml = await client.get(f"{BASE}/discovery.xml", params=JURISDICTION)
        root = ET.fromstring(xml.content)
        assert root.tag == "discovery"
        assert (
            root.findtext("endpoints/endpoint/specification")
            == "http://wiki.open311.org/GeoReport_v2"
        )

        services = (await client.get(f"{BASE}/services.json", params=JURISDICTION)).json()
        codes = {s["service_code"] for s in services}
        assert {"jalan", "kesehatan", "air-bersih", "lainnya"} <= codes
        assert all(s["metadata"] is True and s["service_name"] for s in services)
        xml_services = xml_items(await client.get(f"{BASE}/services.xml"), "service")
        assert {s["service_code"] for s in xml_services} == codes

        definition = (await client.get(f"{BASE}/services/jalan.json")).json()
        assert [a["code"] for a in definition["attributes"]] == ["anonim", "rahasia"]
        xml_definition = ET.fromstring((await client.get(f"{BASE}/services/jalan.xml")).content)
        attributes = xml_definition.findall("attributes/attribute")
        assert [a.findtext("code") for a in attributes] == ["anonim", "rahasia"]
        assert attributes[0].findtext("variable") == "true"
        assert [v.findtext("key") for v in attributes[0].findall("values/value")] == [
            "true",
            "false",
        ]
        missing = await client.get(f"{BASE}/services/tidak-ada.xml")
        assert missing.status_code == 404
        assert ET.fromstring(missing.content).findtext("error/code") == "404"


async def test_a_request_posted_like_fixmystreet_gets_an_id_and_reads_back_without_identity(
    portal: RunningPortal, api_key: str, store: Store, amqp: aio_pika.abc.AbstractConnection
) -> None:
    async with portal.client() as client:
        request_id = await post_and_get_id(client, api_key)
        # A point but no region code: routing leaves the agency to the admin, who picks it.
        await case_in_status(store, request_id, "awaiting_routing")
        await publish(
            amqp,
            topology.COMMANDS,
            "routing.dispose",
            {
                "message_id": f"dispose-{request_id}",
                "tracking_id": request_id,
                "agency": ROAD_AGENCY,
                "admin": "admin-sumsel",
            },
        )
        case = await case_in_status(store, request_id, "dispatched")
        # The title came first in the description, as FixMyStreet sends it.
        assert case["title"] == "Jalan berlubang di Jl. Mayor Zen"
        assert case["description"].startswith("Lubang besar")
        assert case["channel"] == "open311"

        as_json = await client.get(f"{BASE}/requests/{request_id}.json", params=JURISDICTION)
        [item] = as_json.json()
        assert item["service_request_id"] == request_id
        assert item["status"] == "open"
        assert item["service_code"] == "jalan"
        assert "Pekerjaan Umum" in item["agency_responsible"]
        # RFC 3339 datetimes that parse, with offsets.
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert datetime.fromisoformat(item[name]).tzinfo is not None, name
        # Coarsened: never more precise than about 110 m.
        assert (item["lat"], item["long"]) == (-2.976, 104.775)
        assert None not in item.values()
        for word in IDENTITY:
            assert word not in as_json.text

        as_xml = await client.get(f"{BASE}/requests/{request_id}.xml", params=JURISDICTION)
        [xml_item] = xml_items(as_xml, "request")
        assert xml_item["service_request_id"] == request_id
        assert {"lat", "long", "updated_datetime"} <= set(xml_item)
        for word in IDENTITY:
            assert word not in as_xml.text

        # The agency answers: status_notes carries it, and the request is closed.
        await agency_resolves(amqp, request_id, ROAD_AGENCY, "Lubang sudah ditambal.")
        await case_in_status(store, request_id, "resolved")
        [item] = (await client.get(f"{BASE}/requests/{request_id}.json")).json()
        assert (item["status"], item["status_notes"]) == ("closed", "Lubang sudah ditambal.")
        assert "expected_datetime" not in item

        listing = await client.get(
            f"{BASE}/requests.json",
            params={**JURISDICTION, "service_request_id": f"{request_id},XXXX-XXXX-XXXX"},
        )
        assert [r["service_request_id"] for r in listing.json()] == [request_id]


async def test_requests_filters_and_never_shows_confidential_cases(
    portal: RunningPortal, api_key: str, store: Store
) -> None:
    async with portal.client() as client:
        public_id = await post_and_get_id(client, api_key)
        secret_id = await post_and_get_id(
            client,
            api_key,
            **{"attribute[rahasia]": "true"},
            description="Dugaan pungli di loket\r\n\r\nPetugas meminta uang tambahan Rp 100.000.",
        )
        health_id = await post_and_get_id(
            client,
            api_key,
            service_code="kesehatan",
            description="Antrean RSUD sangat panjang\r\n\r\nPasien lansia menunggu 4 jam.",
        )
        for tracking_id in (public_id, secret_id, health_id):
            await case_in_status(store, tracking_id, "needs_review", "awaiting_routing")

        now = datetime.now(UTC)
        window = {
            "start_date": (now - timedelta(hours=1)).isoformat(),
            "end_date": (now + timedelta(hours=1)).isoformat(),
        }
        everything = (await client.get(f"{BASE}/requests.json", params=JURISDICTION)).json()
        listed = {r["service_request_id"] for r in everything}
        assert {public_id, health_id} <= listed
        assert secret_id not in listed
        for entry in everything:  # FixMyStreet skips any without these
            assert {"lat", "long", "updated_datetime"} <= set(entry)

        only_roads = await client.get(
            f"{BASE}/requests.xml", params={**window, "service_code": "jalan", "status": "open"}
        )
        road_ids = {r["service_request_id"] for r in xml_items(only_roads, "request")}
        assert public_id in road_ids and health_id not in road_ids and secret_id not in road_ids

        closed = await client.get(f"{BASE}/requests.json", params={"status": "closed"})
        assert closed.json() == []

        by_id = await client.get(
            f"{BASE}/requests.json", params={"service_request_id": f"{secret_id},{public_id}"}
        )
        assert [r["service_request_id"] for r in by_id.json()] == [public_id]
        hidden = await client.get(f"{BASE}/requests/{secret_id}.json")
        assert hidden.status_code == 404
        assert "pungli" not in hidden.text


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_errors_come_back_as_code_and_description_with_a_4xx_status(
    portal: RunningPortal, api_key: str, fmt: str, store: Store
) -> None:
    cases = [
        (fms_post(None), 403, "api_key"),
        (fms_post("lapor_not-a-real-key"), 403, "api_key"),
        (fms_post(api_key, service_code="kapal-selam"), 400, "service_code"),
        (fms_post(api_key, lat="999"), 400, "lat"),
        (fms_post(api_key, description=" "), 400, "description"),
        (fms_post(api_key, lat="", long="", address_string=""), 400, "address_string"),
    ]
    async with portal.client() as client:
        for body, status, mentions in cases:
            answer = await client.post(f"{BASE}/requests.{fmt}", data=body)
            assert answer.status_code == status, (body, answer.text)
            errors = _errors(answer, fmt)
            assert errors[0]["code"] == str(status) and mentions in errors[0]["description"]
        bad_date = await client.get(f"{BASE}/requests.{fmt}", params={"start_date": "kemarin"})
        assert bad_date.status_code == 400
        assert "start_date" in _errors(bad_date, fmt)[0]["description"]
        unknown_token = await client.get(f"{BASE}/tokens/o311-nothing.{fmt}")
        assert unknown_token.status_code == 404
    # Nothing refused became a case.
    assert await store.complaints.count_documents({"channel": "open311"}) == 0


def _errors(answer: httpx.Response, fmt: str) -> list[dict[str, Any]]:
    if fmt == "json":
        return [{k: str(v) for k, v in e.items()} for e in answer.json()]
    assert ET.fromstring(answer.content).tag == "errors"
    return xml_items(answer, "error")


async def test_the_portal_publishes_as_its_own_broker_user(
    portal: RunningPortal, api_key: str, amqp: aio_pika.abc.AbstractConnection
) -> None:
    async with (
        Listener(amqp, topology.INTAKE, "channel.open311") as reports,
        portal.client() as client,
    ):
        answer = await client.post(f"{BASE}/requests.json", data=fms_post(api_key))
        assert answer.status_code == 200
        [report] = await reports.wait_for(lambda bodies: len(bodies) >= 1)
    # RabbitMQ checked user_id against the connection's user; the services authorise on it.
    user = httpx.URL(portal.settings.amqp_url.get_secret_value()).username
    assert reports.messages[0].user_id == user
    assert report["channel"] == "open311" and report["title"] == "Jalan berlubang di Jl. Mayor Zen"
