"""How the demo's simulated parties reach the exchange: in-process calls of the ``Exchange``, or real HTTP.

Both transports offer the same few calls, the ones a bank, a telecom or the police desk makes, and both end
in the same ``Exchange`` methods: over HTTP through ``zaslon serve``'s routes with each organisation's own
API key. The demo (``zaslon.lab.demo``) does not know which one it talks to.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import httpx

from zaslon.core.access import OrgKind
from zaslon.core.types import Transfer
from zaslon.errors import ZaslonError
from zaslon.flow.customers import Customer
from zaslon.flow.exchange import Exchange
from zaslon.flow.intake import IncidentReport, Victim
from zaslon.flow.orgs import Principal
from zaslon.flow.ports.stats import HistoryRow
from zaslon.flow.ports.telecom import CallEvent
from zaslon.flow.telecom import CallReport


class Transport(Protocol):
    name: str

    def register_customers(self, bank: str, customers: Sequence[Customer]) -> None: ...
    def score(self, bank: str, transfers: Sequence[Transfer]) -> list[str]: ...
    def report_calls(self, telecom: str, calls: Sequence[CallReport]) -> None: ...
    def report_call_events(self, telecom: str, events: Sequence[CallEvent]) -> None: ...
    def report_incident(self, org: str, report: IncidentReport) -> tuple[dict[str, Any] | None, float]: ...
    def import_history(self, police: str, rows: Sequence[HistoryRow]) -> int: ...
    def new_orders(self, bank: str, incident_id: str) -> list[dict[str, Any]]: ...
    def acknowledge(self, bank: str, order_id: str, at: datetime) -> None: ...
    def frozen(self, bank: str, order_id: str, amount: int, at: datetime) -> None: ...
    def train(self, cutoff: datetime) -> dict[str, Any] | None: ...
    def cases(self) -> dict[str, list[str]]: ...
    def publish_drops(self) -> list[dict[str, Any]]: ...
    def courier_risks(self, at: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
        """The desk's clock at ``at``: the at-door courier risks raised (person, district, at) and the next due."""
        ...
    def freeze_requests_abroad(self) -> list[dict[str, Any]]: ...
    def sync_partners(self, publish: bool = False) -> None: ...
    def case_links_abroad(self) -> list[dict[str, Any]]: ...


def _order(o: Any) -> dict[str, Any]:
    return {"order_id": o.order_id, "account_id": o.account_id, "amount": o.amount, "bank_id": o.bank_id}


class InProcess:
    """Calls the Exchange directly, as the routes do, with each organisation's principal."""

    name = "in-process"

    def __init__(self, exchange: Exchange, principals: dict[str, Principal], desk: str) -> None:
        self.x, self.p, self.desk = exchange, principals, desk

    def register_customers(self, bank: str, customers: Sequence[Customer]) -> None:
        self.x.register_customers(self.p[bank], customers)

    def score(self, bank: str, transfers: Sequence[Transfer]) -> list[str]:
        return [r.decision.outcome.value for r in self.x.score(bank, transfers, source="batch")]

    def report_calls(self, telecom: str, calls: Sequence[CallReport]) -> None:
        self.x.report_calls(self.p[telecom], calls)

    def report_call_events(self, telecom: str, events: Sequence[CallEvent]) -> None:
        self.x.report_call_events(self.p[telecom], events)

    def report_incident(self, org: str, report: IncidentReport) -> tuple[dict[str, Any] | None, float]:
        started = time.perf_counter()
        try:
            # The run is in event time: the exchange takes the report at its report time, so its orders, cases
            # and the statistics' durations are in event time too (over HTTP the server's clock stamps them).
            out = self.x.report_incident(self.p[org], report, now=report.reported_at)
        except ZaslonError:
            return None, time.perf_counter() - started
        elapsed = time.perf_counter() - started
        return {"created": out.intake.created, "incident_id": out.intake.incident.incident_id,
                "flagged_accounts": list(out.intake.flagged_accounts),
                "orders": [o.order_id for o in out.orders]}, elapsed

    def import_history(self, police: str, rows: Sequence[HistoryRow]) -> int:
        return self.x.import_incident_history(self.p[police], rows, label="simulated")["added"]

    def new_orders(self, bank: str, incident_id: str) -> list[dict[str, Any]]:
        from zaslon.core.types import OrderStatus

        bic = self.p[bank].bank_id
        return [_order(o) for o in self.x.list_orders(bic, incident_id=incident_id, status=OrderStatus.ISSUED,
                                                      limit=1000)]

    def acknowledge(self, bank: str, order_id: str, at: datetime) -> None:
        self.x.acknowledge(self.p[bank], order_id, at=at)

    def frozen(self, bank: str, order_id: str, amount: int, at: datetime) -> None:
        self.x.frozen(self.p[bank], order_id, amount, at=at)

    def train(self, cutoff: datetime) -> dict[str, Any] | None:
        trained = self.x.train_model(cutoff, promote=True)  # the desk retrains and promotes weekly
        return None if trained is None else trained.meta

    def cases(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for row in self.x.cases.list(limit=1_000_000):
            out[row["case_id"]] = list(self.x.cases.get(row["case_id"]).incident_ids)
        return out

    def publish_drops(self) -> list[dict[str, Any]]:
        return [{"account_id": r["account_id"], "score": r["score"]} for r in self.x.publish_suspected_drops()]

    def courier_risks(self, at: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
        raised = self.x.raise_courier_risks(now=at)
        return ([{"person": s.person, "district": s.district, "at": s.at} for s in raised],
                self.x.district.next_due())

    def freeze_requests_abroad(self) -> list[dict[str, Any]]:
        return self.x.sharing.freeze_requests("out")

    def sync_partners(self, publish: bool = False) -> None:
        """A round of the exchange's own partner sync, now (``zaslon serve`` runs them on its schedule);
        ``publish``: a scheduled round's, which publishes indicators and cases first."""
        if publish:
            self.x.sharing.sync()
            return
        done = self.x.partner_sync.rounds
        self.x.partner_sync.wake()
        self.x.partner_sync.wait_round(done, timeout_s=60)

    def case_links_abroad(self) -> list[dict[str, Any]]:
        return self.x.sharing.case_links()


class OverHttp:
    """A real HTTP client per organisation, each with its own API key, against ``zaslon serve``."""

    name = "http"

    def __init__(self, base_url: str, keys: dict[str, str], desk: str) -> None:
        self.desk = desk
        self.clients = {org: httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"},
                                          timeout=120.0) for org, key in keys.items()}

    def close(self) -> None:
        for c in self.clients.values():
            c.close()

    def _call(self, org: str, method: str, path: str, **kw: Any) -> httpx.Response:
        r = self.clients[org].request(method, path, **kw)
        if r.status_code >= 500 or r.status_code in (401, 403) or (r.status_code >= 400 and path != "/v1/incidents"):
            raise RuntimeError(f"{method} {path} as {org}: {r.status_code} {r.text[:300]}")
        return r

    def register_customers(self, bank: str, customers: Sequence[Customer]) -> None:
        body = {"customers": [
            {"account_id": c.account_id, "customer_id": c.customer_id, "kind": c.kind,
             "opened_at": None if c.opened_at is None else c.opened_at.isoformat(),
             "birth_date": None if c.birth_date is None else c.birth_date.isoformat(),
             "lives_alone": c.lives_alone, "phones": list(c.phones), "cards": list(c.cards),
             **{k: v for k in ("region", "district", "address") if (v := getattr(c, k)) is not None}}
            for c in customers]}
        r = self._call(bank, "PUT", "/v1/customers", json=body)
        r.raise_for_status()

    def score(self, bank: str, transfers: Sequence[Transfer]) -> list[str]:
        body = [_transfer_json(t) for t in transfers]
        r = self._call(bank, "POST", "/v1/transfers/score/batch", json=body)
        r.raise_for_status()
        return [d["outcome"] for d in r.json()]

    def report_calls(self, telecom: str, calls: Sequence[CallReport]) -> None:
        body = {"calls": [{"call_id": c.call_id, "ts": c.ts.isoformat(), "caller": c.caller, "callee": c.callee,
                           "callee_party": c.callee_party, "duration_s": c.duration_s} for c in calls]}
        self._call(telecom, "POST", "/v1/telecom/calls", json=body).raise_for_status()

    def report_call_events(self, telecom: str, events: Sequence[CallEvent]) -> None:
        def one(e: CallEvent) -> dict[str, Any]:
            body: dict[str, Any] = {"call_id": e.call_id, "event": e.event, "ts": e.ts.isoformat(), "caller": e.caller,
                                    "callee": e.callee, "callee_party": e.callee_party, "duration_s": e.duration_s}
            if e.caller_verified is not None:
                body["number_verification"] = {"devicePhoneNumberVerified": e.caller_verified}
            return body

        r = self._call(telecom, "POST", "/v1/telecom/call-events", json={"events": [one(e) for e in events]})
        r.raise_for_status()

    def report_incident(self, org: str, report: IncidentReport) -> tuple[dict[str, Any] | None, float]:
        v = report.victim
        body: dict[str, Any] = {
            "scheme": report.scheme.value, "transfer_ids": list(report.transfer_ids), "text": report.text,
            "external_ref": report.external_ref, "reported_at": report.reported_at.isoformat(),
            "language": report.language,
            "victim": None if v is None else {k: val for k, val in (
                ("party_id", v.party_id), ("age", v.age), ("lives_alone", v.lives_alone), ("region", v.region),
                ("district", v.district)) if val is not None},
        }
        started = time.perf_counter()
        r = self._call(org, "POST", "/v1/incidents", json=body)
        elapsed = time.perf_counter() - started
        if r.status_code >= 400:
            return None, elapsed
        out = r.json()
        return {"created": out["status"] == "created", "incident_id": out["incident_id"],
                "flagged_accounts": out.get("flagged_accounts", []), "orders": out.get("orders", [])}, elapsed

    def import_history(self, police: str, rows: Sequence[HistoryRow]) -> int:
        added = 0
        for start in range(0, len(rows), 5000):
            body = {"label": "simulated", "incidents": [
                {"history_id": r.history_id, "scheme": r.scheme, "reported_at": r.reported_at.isoformat(),
                 "region": r.region, "district": r.district, "victim_age": r.victim_age,
                 "victim_lives_alone": r.victim_lives_alone, "stolen": r.stolen}
                for r in rows[start : start + 5000]]}
            r = self._call(police, "POST", "/v1/incidents/history", json=body)
            r.raise_for_status()
            added += int(r.json()["added"])
        return added

    def new_orders(self, bank: str, incident_id: str) -> list[dict[str, Any]]:
        r = self._call(bank, "GET", "/v1/orders", params={"incident_id": incident_id, "status": "issued",
                                                           "limit": 1000})
        r.raise_for_status()
        return [_order_dict(o) for o in r.json()["orders"]]

    def acknowledge(self, bank: str, order_id: str, at: datetime) -> None:
        self._call(bank, "POST", f"/v1/orders/{order_id}/ack", json={"at": at.isoformat()}).raise_for_status()

    def frozen(self, bank: str, order_id: str, amount: int, at: datetime) -> None:
        self._call(bank, "POST", f"/v1/orders/{order_id}/frozen",
                   json={"amount": amount, "at": at.isoformat()}).raise_for_status()

    def train(self, cutoff: datetime) -> dict[str, Any] | None:
        r = self._call(self.desk, "POST", "/v1/model/train", json={"cutoff": cutoff.isoformat(), "promote": True})
        r.raise_for_status()
        out = r.json()
        return out.get("meta") if out["trained"] else None

    def cases(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        offset = 0
        while True:
            page = self._call(self.desk, "GET", "/v1/cases", params={"limit": 1000, "offset": offset}).json()
            rows = page["cases"]
            for row in rows:
                got = self._call(self.desk, "GET", f"/v1/cases/{row['case_id']}").json()
                out[row["case_id"]] = list(got["incident_ids"])
            if len(rows) < 1000:
                return out
            offset += len(rows)

    def publish_drops(self) -> list[dict[str, Any]]:
        self._call(self.desk, "POST", "/v1/signals/suspected-drops/refresh").raise_for_status()
        r = self._call(self.desk, "GET", "/v1/signals/suspected-drops", params={"limit": 10_000})
        return [{"account_id": a["account_id"], "score": a["score"]} for a in r.json()["accounts"]]

    def courier_risks(self, at: datetime) -> tuple[list[dict[str, Any]], datetime | None]:
        r = self._call(self.desk, "POST", "/v1/district/courier-risks/evaluate", json={"at": at.isoformat()})
        out = r.json()
        raised = [{"person": s["person"], "district": s["district"], "at": datetime.fromisoformat(s["at"])}
                  for s in out["raised"]]
        return raised, None if out["next_due"] is None else datetime.fromisoformat(out["next_due"])

    def freeze_requests_abroad(self) -> list[dict[str, Any]]:
        r = self._call(self.desk, "GET", "/v1/freeze-requests", params={"direction": "out"})
        return list(r.json()["freeze_requests"])

    def sync_partners(self, publish: bool = False) -> None:
        """Nothing to ask: the served exchange syncs (and publishes) with its partners every second; wait for a
        round or two."""
        time.sleep(3.0 if publish else 0)

    def case_links_abroad(self) -> list[dict[str, Any]]:
        r = self._call(self.desk, "GET", "/v1/case-links")
        return list(r.json()["case_links"])


def _order_dict(o: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": o["order_id"], "account_id": o["account_id"], "amount": o["amount"], "bank_id": o["bank_id"]}


def _transfer_json(t: Transfer) -> dict[str, Any]:
    out: dict[str, Any] = {"transfer_id": t.transfer_id, "ts": t.ts.isoformat(), "payer": t.payer, "payee": t.payee,
                           "amount": t.amount, "currency": t.currency, "channel": t.channel.value}
    for name in ("device", "ip", "payer_bank", "payee_bank", "payee_country"):
        value = getattr(t, name)
        if value is not None:
            out[name] = value
    if t.atm is not None:
        out["atm"] = {"atm_id": t.atm.atm_id, "lat": t.atm.lat, "lon": t.atm.lon, "city": t.atm.city}
    return out


def principal_of(org_id: str, kind: str, bank_id: str | None) -> Principal:
    from zaslon.core.access import DEFAULT_SCOPES

    return Principal(org_id, OrgKind(kind), DEFAULT_SCOPES[OrgKind(kind)], bank_id)


__all__ = ["InProcess", "OverHttp", "Transport", "Victim", "principal_of"]
