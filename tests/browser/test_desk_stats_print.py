"""The statistics page in Chromium: the charts are drawn, and printed the page drops the menu and the filters
(the print stylesheet) so it goes to the minister as a clean report."""

from __future__ import annotations

from pathlib import Path

PASSWORD = "correct horse battery staple"


def test_the_statistics_page_prints_cleanly(served: str, browser, desk_world, shots: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport={"width": 1300, "height": 900}, locale="ru-RU").new_page()
    page.goto(served + "/desk/login")
    page.fill("input[name=login]", "sofia")
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/desk/queue")
    page.click("header nav a[href='/desk/stats']")
    page.wait_for_url("**/desk/stats")
    assert page.locator("svg.chart rect.bar").count() >= 4
    assert page.locator("header.top").is_visible() and page.locator("form.filters").is_visible()
    page.screenshot(path=str(shots / "stats.png"), full_page=True)
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible() and not page.locator("form.filters").is_visible()
    assert page.locator("svg.chart").first.is_visible() and page.locator(".print-only").is_visible()
    assert len(page.pdf(format="A4")) > 1000
