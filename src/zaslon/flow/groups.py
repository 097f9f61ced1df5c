"""The organised-group view of a case: who it hit, what it took and what was saved, when it was active,
its drop network, its infrastructure and where its couriers took the cash.

``build_report`` is pure (plain facts in, a dict out); ``load_facts`` reads them from the store;
``export_case`` renders JSON or CSV. The store has no party register, so a victim's country is taken from
the IBAN country of the account they paid from, and a victim is a company when the scheme targets
companies (fake director) or the name carries a legal form (ООО, ОАО, ЧУП, LLC ...).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from zaslon.adapters.db.stores.cases import SqlCaseStore
from zaslon.adapters.db.stores.orders import SqlOrderStore
from zaslon.core.types import CASH_SINK
from zaslon.flow.ports.cases import CaseFacts, CaseStore, IncidentFact, TransferFact
from zaslon.flow.ports.orders import OrderStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["INFRA_KINDS", "CaseFacts", "IncidentFact", "TransferFact", "build_report", "export_case", "load_facts",
           "report_csv"]

INFRA_KINDS = ("phone", "url", "domain", "wallet", "email", "apple_id", "ip", "device")
_LEGAL_FORM = re.compile(r"(?i)\b(ООО|ОАО|ЗАО|АО|ЧУП|УП|ИП|ЧТУП|СООО|LLC|LTD|JSC|GmbH|Sp\. z o\.o\.)\b")


def _country(account: str) -> str:
    return account[:2].upper() if len(account) >= 2 and account[:2].isalpha() else "??"


def _victim_kind(inc: IncidentFact) -> str:
    if inc.scheme == "fake_director" or (inc.victim_name and _LEGAL_FORM.search(inc.victim_name)):
        return "legal_entity"
    return "person"


def build_report(f: CaseFacts) -> dict[str, Any]:
    victims: dict[str, dict[str, Any]] = {}
    stolen: dict[str, int] = {}
    first_drops: set[str] = set()
    times: list[datetime] = []
    infra: dict[tuple[str, str], set[str]] = {}
    for inc in f.incidents:
        times.append(inc.reported_at)
        key = inc.victim_party or inc.victim_name or f"unknown:{inc.incident_id}"
        v = victims.setdefault(key, {"victim": key, "name": inc.victim_name, "kind": _victim_kind(inc),
                                     "country": None, "lost": {}, "incidents": []})
        v["incidents"].append(inc.incident_id)
        for t in inc.disputed:
            times.append(t.ts)
            v["country"] = v["country"] or _country(t.payer)
            v["lost"][t.currency] = v["lost"].get(t.currency, 0) + t.amount
            stolen[t.currency] = stolen.get(t.currency, 0) + t.amount
            if t.payee != CASH_SINK:
                first_drops.add(t.payee)
        for kind, value in inc.indicators:
            if kind in INFRA_KINDS:
                infra.setdefault((kind, value), set()).add(inc.incident_id)
    for v in victims.values():
        v["country"] = v["country"] or "BY"
    by_country: dict[str, dict[str, int]] = {}
    for v in victims.values():
        c = by_country.setdefault(v["country"], {"person": 0, "legal_entity": 0})
        c[v["kind"]] += 1
    drops = set(first_drops) | set(f.frozen)
    edges: dict[tuple[str, str], list[int]] = {}
    cash_points: dict[str, dict[str, Any]] = {}
    for t in f.onward:
        if t.payer not in drops:
            continue
        times.append(t.ts)
        if t.payee == CASH_SINK:
            p = cash_points.setdefault(t.atm_id or "unknown", {"atm_id": t.atm_id, "city": t.atm_city,
                                                                 "withdrawals": 0, "amount": {}, "accounts": set(),
                                                                 "first": t.ts, "last": t.ts})
            p["withdrawals"] += 1
            p["amount"][t.currency] = p["amount"].get(t.currency, 0) + t.amount
            p["accounts"].add(t.payer)
            p["first"], p["last"] = min(p["first"], t.ts), max(p["last"], t.ts)
            continue
        e = edges.setdefault((t.payer, t.payee), [0, 0])
        e[0] += 1
        e[1] += t.amount
    saved: dict[str, int] = {}
    for frozen, returned, ccy in f.frozen.values():
        saved[ccy] = saved.get(ccy, 0) + max(frozen, returned)
    lost = {c: stolen.get(c, 0) - saved.get(c, 0) for c in sorted(set(stolen) | set(saved))}
    nodes = sorted(drops | {b for _, b in edges})
    return {
        "case_id": f.case_id,
        "status": f.status,
        "version": f.version,
        "incidents": len(f.incidents),
        "schemes": sorted({i.scheme for i in f.incidents}),
        "active": {"from": min(times).isoformat() if times else None,
                   "to": max(times).isoformat() if times else None},
        "money": {"stolen": stolen, "saved": saved, "lost": lost},
        "victims": {"total": len(victims), "by_country": by_country,
                    "list": [{**v, "incidents": sorted(v["incidents"])} for v in victims.values()]},
        "drop_network": {
            "accounts": [{"account_id": a, "first_drop": a in first_drops, "frozen": a in f.frozen,
                          "mule_score": f.suspected.get(a)} for a in nodes],
            "transfers": [{"from": a, "to": b, "count": n, "amount": amt}
                          for (a, b), (n, amt) in sorted(edges.items())],
        },
        "infrastructure": [{"kind": k, "value": v, "incidents": len(ids)} for (k, v), ids in sorted(infra.items())],
        "cash_out_points": [
            {**{k: p[k] for k in ("atm_id", "city", "withdrawals", "amount")}, "accounts": sorted(p["accounts"]),
             "first": p["first"].isoformat(), "last": p["last"].isoformat()} for p in cash_points.values()
        ],
    }


def report_csv(r: Mapping[str, Any]) -> str:
    """One flat table: a ``section`` column, then the columns every section shares."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "id", "kind", "country", "amount", "currency", "first", "last", "detail"])
    w.writerow(["case", r["case_id"], r["status"], "", "", "", r["active"]["from"], r["active"]["to"],
                f"{r['incidents']} incidents; schemes {' '.join(r['schemes'])}"])
    for what in ("stolen", "saved", "lost"):
        for ccy, amount in r["money"][what].items():
            w.writerow(["money", what, "", "", amount, ccy, "", "", ""])
    for v in r["victims"]["list"]:
        for ccy, amount in (v["lost"] or {"": ""}).items():
            w.writerow(["victim", v["victim"], v["kind"], v["country"], amount, ccy, "", "",
                        " ".join(v["incidents"])])
    for a in r["drop_network"]["accounts"]:
        detail = "first drop" if a["first_drop"] else ("frozen" if a["frozen"] else "downstream")
        w.writerow(["drop", a["account_id"], "account", a["account_id"][:2], "", "", "", "", detail])
    for e in r["drop_network"]["transfers"]:
        w.writerow(["flow", f"{e['from']}>{e['to']}", "transfer", "", e["amount"], "", "", "",
                    f"{e['count']} transfers"])
    for i in r["infrastructure"]:
        w.writerow(["infrastructure", i["value"], i["kind"], "", "", "", "", "", f"{i['incidents']} incidents"])
    for p in r["cash_out_points"]:
        for ccy, amount in p["amount"].items():
            w.writerow(["cash_out", p["atm_id"], "atm", p["city"] or "", amount, ccy, p["first"], p["last"],
                        " ".join(p["accounts"])])
    return out.getvalue()


def load_facts(engine: Engine, case_id: str) -> CaseFacts:
    cases: CaseStore = SqlCaseStore(engine)
    orders: OrderStore = SqlOrderStore(engine)
    case = cases.case(case_id)  # NotFound if there is no such case
    facts = CaseFacts(case_id, case.status, case.version)
    ids = list(case.incident_ids)
    facts.incidents += cases.incident_facts(ids)
    for o in orders.of_incidents(ids):
        old = facts.frozen.get(o.account_id, (0, 0, o.currency))
        facts.frozen[o.account_id] = (old[0] + o.frozen_amount, old[1] + o.returned_amount, o.currency)
    drops = sorted({t.payee for i in facts.incidents for t in i.disputed if t.payee != CASH_SINK}
                   | set(facts.frozen))
    facts.onward += cases.transfers_from(drops)
    facts.suspected.update(cases.mule_scores(drops))
    facts.onward.sort(key=lambda t: (t.ts, t.transfer_id))
    return facts


def export_case(engine: Engine, case_id: str, fmt: str = "json") -> str:
    report = build_report(load_facts(engine, case_id))
    if fmt == "csv":
        return report_csv(report)
    return json.dumps(report, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
