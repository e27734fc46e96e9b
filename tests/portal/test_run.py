"""``python -m services.portal`` serves on LAPOR_PORTAL_HOST/PORT and stops on SIGTERM."""

from __future__ import annotations

import signal

import httpx
import pytest

from shared.settings import IntakeSettings
from tests.conftest import start_service, wait_exit
from tests.portal.conftest import free_port
from tests.support import eventually

pytestmark = pytest.mark.integration


async def test_the_portal_runs_as_its_own_process_and_stops_on_sigterm(
    settings: IntakeSettings,
) -> None:
    port = free_port()
    process = start_service("portal", settings, LAPOR_PORTAL_PORT=str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:

            async def healthy() -> bool:
                if process.poll() is not None:
                    raise AssertionError(f"the portal exited: {process.stderr.read()!r}")  # type: ignore[union-attr]
                try:
                    return (await client.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(healthy, timeout=30)
            form = await client.get("/")
            assert form.status_code == 200 and "Kirim laporan" in form.text
        process.send_signal(signal.SIGTERM)
        assert await wait_exit(process, timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
