"""The ledger's packed transfer ids and its look-up by id (``Ledger.find``), across compactions."""

from __future__ import annotations

import numpy as np

from zaslon.core.ledger import Ledger, TransferIds


def test_packed_ids_give_back_every_id_as_it_was_given() -> None:
    given = ["bank-1/t1", "t2", "bank-2/", "/lead", "bank-1/ж-3", "freeze:7", "bank-1/a/b", ""]
    ids = TransferIds(given)
    ids.append("bank-2/t9")
    assert list(ids) == [*given, "bank-2/t9"] and len(ids) == 9
    assert ids[-1] == "bank-2/t9" and ids[4] == "bank-1/ж-3"
    assert TransferIds(["T01", "T2"])[1] == "T2"  # the bulk path (ASCII, no "/")
    try:
        ids[9]
    except IndexError:
        pass
    else:
        raise AssertionError("a row past the end must raise IndexError")


def test_find_looks_up_rows_in_the_compacted_part_and_the_tail() -> None:
    led = Ledger(compact_every=7)  # compacts every 7 rows: most rows sit in the sorted part
    led.add_account("A", bank_id=None)
    keys = [f"org-{i % 3}/t{i}" for i in range(40)]
    for i, k in enumerate(keys):
        led.append(k, i, "A", f"B{i % 5}", 100 + i)
    assert led.tail_rows > 0  # some in the tail
    assert [led.find(k) for k in keys] == list(range(40))
    assert led.find("org-0/t1") is None and led.find("org-9/t0") is None and led.find("t0") is None
    led.append("org-0/t0", 41, "A", "B0", 5)  # the same id again: the last one is found
    assert led.find("org-0/t0") == 40
    led.compact()
    assert led.find("org-0/t0") == 40 and led.find(keys[39]) == 39
    assert int(led.amount[led.find(keys[12]) or 0]) == 112


def test_a_bulk_loaded_ledger_finds_its_rows() -> None:
    led = Ledger()
    led.add_account("A", bank_id=None)
    led.add_account("B", bank_id=None)
    n = 5
    led.load([f"T{i}" for i in range(n)], np.arange(n, dtype=np.int64), np.zeros(n, dtype=np.int32),
             np.ones(n, dtype=np.int32), np.full(n, 10, dtype=np.int64), payee_bank=np.full(n, -1, dtype=np.int32),
             payee_country=np.full(n, -1, dtype=np.int32), atm=np.full(n, -1, dtype=np.int32))
    assert [led.find(f"T{i}") for i in range(n)] == list(range(n)) and led.transfer_ids[3] == "T3"
    led.append("T9", 9, "A", "B", 1)
    assert led.find("T9") == n
