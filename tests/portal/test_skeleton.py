"""The portal answers, with its security headers, and a browser renders its base page."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.portal.conftest import RunningPortal

pytestmark = pytest.mark.e2e


async def test_every_answer_carries_the_security_headers(portal: RunningPortal) -> None:
    async with portal.client() as client:
        answer = await client.get("/")
    assert answer.status_code == 200
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert 'lang="id"' in answer.text


@pytest.mark.browser
async def test_a_browser_renders_the_base_page_with_its_own_css(page: Page) -> None:
    await page.goto("/")
    await expect(page.locator("main h1")).to_have_text("Sampaikan laporan Anda")
    header = page.locator("header.site-header")
    # The portal's own stylesheet is applied (no CDN): the header has its colour.
    assert await header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(122, 16, 32)"
    await page.keyboard.press("Tab")
    await expect(page.locator(".skip-link")).to_be_focused()
