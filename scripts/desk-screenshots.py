"""Screenshots of every desk page on a running desk (e.g. the one `make demo` leaves at :8000), for docs/desk/.

    PYTHONPATH=src .venv/bin/python scripts/desk-screenshots.py --url http://127.0.0.1:8000 \\
        --login duty --password '<printed by make demo>' --out docs/desk

Drives Debian's Chromium like the browser tests (never `playwright install`). It takes the next incident
(so the duty analyst holds one afterwards) and changes nothing else.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--login", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--out", type=Path, default=Path("docs/desk"))
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS, headless=True)
        page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
        page.goto(a.url + "/desk/login")
        page.screenshot(path=str(a.out / "login.png"))
        page.fill("input[name=login]", a.login)
        page.fill("input[name=password]", a.password)
        page.click("#sign-in")
        page.wait_for_url("**/desk/queue")
        page.screenshot(path=str(a.out / "queue.png"))
        page.click("#take-next")
        page.wait_for_url("**/desk/incidents/**")
        page.screenshot(path=str(a.out / "incident-taken.png"), full_page=True)
        page.goto(a.url + "/desk/orders")  # an incident whose money was traced: the first on the orders board
        page.locator("#orders-board td a").first.click()
        page.wait_for_url("**/desk/incidents/**")
        page.screenshot(path=str(a.out / "incident.png"), full_page=True)
        for name in ("orders", "couriers", "appeals", "cases", "rules", "district"):
            page.goto(f"{a.url}/desk/{name}")
            page.screenshot(path=str(a.out / f"{name}.png"))  # the first screen: long lists page on
        for listing, link, name in (("cases", "#cases a", "case"), ("rules", "table.grid a", "rule-version")):
            page.goto(f"{a.url}/desk/{listing}")
            first = page.locator(link).first
            if first.count():
                first.click()
                page.wait_for_load_state()
                page.screenshot(path=str(a.out / f"{name}.png"), full_page=True)
        page.click("#lang-switch")
        page.goto(a.url + "/desk/queue")
        page.screenshot(path=str(a.out / "queue-en.png"))
        page.click("#lang-switch")
        browser.close()
    print(f"screenshots in {a.out}")


if __name__ == "__main__":
    main()
