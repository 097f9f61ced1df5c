"""A duty analyst's shift in Chromium: sign in, take the next incident, see its money flow and orders, watch a
bank's acknowledgement arrive live, see a courier alert, decide an appeal, switch language, sign out; and no
page asks any host but the app for anything."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import httpx
from sqlalchemy import update

from zaslon.adapters.db.tables_orders import freeze_orders

PASSWORD = "correct horse battery staple"


def test_a_shift_at_the_desk(served: str, browser, desk_world, shots: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ru-RU")
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda req: hosts.add(urlparse(req.url).netloc))

    # 1. sign in
    page.goto(served + "/")
    assert page.url.endswith("/desk/login")
    page.screenshot(path=str(shots / "login.png"))
    page.fill("input[name=login]", "anna")
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/desk/queue")
    page.wait_for_selector("#live:has-text('●')")  # the event stream is open
    assert page.locator("#queue tbody tr").count() == 3
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    # 2. take the next incident: the oldest of the highest priority (78, living alone)
    page.keyboard.press("n")  # the keyboard shortcut for "Take next"
    page.wait_for_url("**/desk/incidents/**")
    assert desk_world.incidents[0] in page.url
    assert page.locator("#assignee").inner_text() == "anna"

    # 3. its money-flow graph and its orders
    graph = page.locator("#money-flow")
    assert graph.is_visible()
    assert graph.locator("g.node").count() >= 3 and graph.locator("g.cash_out").count() == 1
    order = desk_world.orders[0]
    row = page.locator(f"tr[data-order='{order}']")
    assert row.get_attribute("data-status") == "issued"
    page.screenshot(path=str(shots / "incident.png"), full_page=True)

    # 4. the bank acknowledges through the API; the desk shows it without a reload
    page.evaluate("window.__same_page = true")
    bank = desk_world.banks["PJCBBY2X"]
    r = httpx.post(f"{served}/v1/orders/{order}/ack", headers=bank.headers)
    assert r.status_code == 200, r.text
    page.wait_for_selector(f"tr[data-order='{order}'][data-status='acknowledged']", timeout=10_000)
    assert page.evaluate("window.__same_page") is True

    # 5. confirm a pending order (one put in pending_confirmation directly: the exchange holds orders on
    # established businesses' accounts back for the desk, which this small world has none of)
    waiting = desk_world.orders[-1]
    with desk_world.engine.begin() as conn:
        conn.execute(update(freeze_orders).where(freeze_orders.c.order_id == waiting)
                     .values(status="pending_confirmation"))
    page.click("a[href='/desk/orders']")
    page.wait_for_url("**/desk/orders")
    assert page.locator(f"#orders-board tr[data-order='{order}']").count() == 1
    page.screenshot(path=str(shots / "orders.png"), full_page=True)
    page.locator(f"#orders-board tr[data-order='{waiting}'] button.confirm").click()
    page.wait_for_selector(f"#orders-board tr[data-order='{waiting}'] .status.issued")

    # 6. a courier alert
    page.click("a[href='/desk/couriers']")
    page.wait_for_url("**/desk/couriers")
    assert page.locator("#alerts-table tr[data-alert]").filter(has_text="ATM-BREST-3").count() == 1
    assert page.locator("#map g.atm[data-alert='t4']").is_visible()  # the ATM on the offline map
    assert "Brest-Terespol" in page.locator("#alerts-table tr[data-alert='t4']").inner_text()  # nearest crossing
    page.locator("#alerts-table tr[data-alert='t4'] button.step-patrol").click()
    page.wait_for_selector("#patrols:has-text('1')")
    assert page.locator("#map g.atm.done[data-alert='t4']").count() == 1
    page.screenshot(path=str(shots / "couriers.png"), full_page=True)

    # 7. edit, backtest and activate a rule
    page.click("a[href='/desk/rules']")
    page.wait_for_url("**/desk/rules")
    page.click("#new-draft")
    page.wait_for_selector("#rules-text")
    text = page.locator("#rules-text").input_value()
    page.locator("#rules-text").fill(text.replace('"payee_reported"', '"payee_reportedd"', 1))
    page.click("#save-draft")
    page.wait_for_selector("#rule-error")
    assert "payee_reportedd" in page.locator("#rule-error").inner_text()  # inline, naming the feature
    page.screenshot(path=str(shots / "rule-error.png"), full_page=True)
    page.locator("#rules-text").fill(text.replace("2-day cooling-off", "two-day cooling-off", 1))
    page.click("#save-draft")
    page.wait_for_selector("#diff .add")
    assert page.locator("#activate").is_disabled()  # not before a backtest
    page.click("#backtest")
    page.wait_for_selector(".backtest.current dd.saved")
    page.screenshot(path=str(shots / "rules.png"), full_page=True)
    page.click("#activate")
    page.wait_for_selector("h1 + .pill + .pill.red")  # live

    # 8. decide an appeal, with a reason
    page.click("a[href='/desk/appeals']")
    page.wait_for_url("**/desk/appeals")
    appeal = page.locator(f"tr[data-appeal='{desk_world.appeal_id}']")
    appeal.locator("select[name=verdict]").select_option("uphold")
    appeal.locator("input[name=note]").fill("salary account, employer confirmed")
    page.screenshot(path=str(shots / "appeals.png"), full_page=True)
    appeal.locator("button").click()
    page.wait_for_selector(f"tr[data-appeal='{desk_world.appeal_id}'] .status.upheld")

    # 9. switch to English and back
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("a[href='/desk/queue']").inner_text() == "Очередь"
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.locator("a[href='/desk/queue']").inner_text() == "Queue"
    assert "/desk/appeals" in page.url  # the same page, in the other language
    page.goto(served + f"/desk/incidents/{desk_world.incidents[0]}")
    page.screenshot(path=str(shots / "incident-en.png"), full_page=True)
    page.click("#lang-switch")
    page.wait_for_selector("html[lang=ru]")

    # 10. sign out
    page.click("#logout")
    page.wait_for_url("**/desk/login")
    page.goto(served + "/desk/queue")
    assert page.url.endswith("/desk/login")

    # The supervisor reads what anna did, with her as the actor.
    page.fill("input[name=login]", "sofia")
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/desk/queue")
    page.goto(served + "/desk/audit")
    rows = page.locator("table.grid tbody tr")
    done = {tuple(rows.nth(i).locator("td").all_inner_texts()[1:3]) for i in range(rows.count())}
    for action in ("queue.take_next", "courier.patrol", "rules.backtest", "rules.activate", "appeal.decide", "logout"):
        assert ("anna", action) in done, action
    page.screenshot(path=str(shots / "audit.png"), full_page=True)

    # Nothing was fetched from anywhere but the app.
    assert hosts == {urlparse(served).netloc}, hosts
    context.close()


def test_the_supervisor_and_district_pages(served: str, browser, desk_world, shots: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    for login, first, name in (("dmitry", "/desk/district", "district.png"),):
        page.goto(served + "/desk/login")
        page.fill("input[name=login]", login)
        page.fill("input[name=password]", PASSWORD)
        page.click("#sign-in")
        page.wait_for_load_state()
        page.goto(served + first)
        assert page.locator("table.grid tbody tr").count() >= 1
        page.screenshot(path=str(shots / name), full_page=True)
        page.click("#logout")
        page.wait_for_url("**/desk/login")
    # The district officer is refused an analyst's page.
    page.goto(served + "/desk/login")
    page.fill("input[name=login]", "dmitry")
    page.fill("input[name=password]", PASSWORD)
    page.click("#sign-in")
    page.wait_for_load_state()
    response = page.goto(served + "/desk/queue")
    assert response is not None and response.status == 403
    context.close()
