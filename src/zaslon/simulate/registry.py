"""Growable column stores for parties and accounts.

Everything is an integer index while the world is generated; strings (IBANs, names) are made once,
vectorised, when the tables are written.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zaslon.simulate import strs

CURRENCIES = ["BYN", "RUB", "KZT", "UZS", "PLN", "EUR", "USDT"]
COUNTRIES = ["BY", "RU", "KZ", "UZ", "PL", "LT", "LV", "UA", "SC"]
ACCOUNT_KINDS = ["personal", "business", "merchant", "crypto_exchange"]
PERSONAL, BUSINESS, MERCHANT, CRYPTO = range(4)


class Accounts:
    """Accounts in creation order. Belarusian ones are (bank, balance account, number) triples whose IBAN
    is built at write time; foreign and crypto-exchange ones carry their id as text.

    Columns grow with spare capacity because drops are recruited one at a time during the run."""

    _COLS = (("bank", np.int32), ("party", np.int32), ("opened", np.int64), ("currency", np.int8),
             ("kind", np.int8), ("country", np.int8))

    def __init__(self) -> None:
        self._n = 0
        self._data = {name: np.zeros(1024, dt) for name, dt in self._COLS}
        self.by_rows: list[np.ndarray] = []
        self.by_payload: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.ext_rows: list[int] = []
        self.ext_ids: list[str] = []

    @property
    def n(self) -> int:
        return self._n

    bank = property(lambda self: self._data["bank"][: self._n])
    party = property(lambda self: self._data["party"][: self._n])
    opened = property(lambda self: self._data["opened"][: self._n])  # µs since epoch, UTC
    currency = property(lambda self: self._data["currency"][: self._n])
    kind = property(lambda self: self._data["kind"][: self._n])
    country = property(lambda self: self._data["country"][: self._n])

    def _grow(self, bank: np.ndarray, party: np.ndarray, opened: np.ndarray, currency: int | np.ndarray,
              kind: int | np.ndarray, country: int | np.ndarray) -> np.ndarray:
        k = int(bank.size)
        start = self._n
        need = start + k
        cap = self._data["bank"].size
        if need > cap:
            new_cap = max(need, cap * 2)
            for name, arr in self._data.items():
                grown = np.zeros(new_cap, arr.dtype)
                grown[:start] = arr[:start]
                self._data[name] = grown
        for name, values in (("bank", bank), ("party", party), ("opened", opened), ("currency", currency),
                             ("kind", kind), ("country", country)):
            self._data[name][start:need] = values
        self._n = need
        return np.arange(start, need, dtype=np.int32)

    def add_by(self, rng: np.random.Generator, bank: np.ndarray, party: np.ndarray, opened: np.ndarray,
               kind: int | np.ndarray) -> np.ndarray:
        kinds = np.broadcast_to(np.asarray(kind), (bank.size,))
        balance = np.where(kinds == PERSONAL, 3014, 3012).astype(np.int64)
        number = rng.integers(10**15, 10**16, size=bank.size, dtype=np.int64)
        rows = self._grow(bank, party, opened, 0, kinds, 0)
        self.by_rows.append(rows)
        self.by_payload.append((bank.astype(np.int64), balance, number))
        return rows

    def add_ext(self, ids: list[str], bank: np.ndarray, party: np.ndarray, opened: np.ndarray, currency: int,
                kind: int, country: int | np.ndarray) -> np.ndarray:
        rows = self._grow(bank, party, opened, currency, kind, country)
        self.ext_rows.extend(int(r) for r in rows)
        self.ext_ids.extend(ids)
        return rows

    def ids(self, bank_codes: list[str]) -> pa.StringArray:
        """Every account's id, in account order: IBANs built in one vectorised pass, then the rest."""
        by_rows = np.concatenate(self.by_rows) if self.by_rows else np.zeros(0, np.int64)
        b, bal, num = (np.concatenate([p[i] for p in self.by_payload]) for i in range(3))
        by = strs.by_ibans(bank_codes, b, bal, num)
        ext = pa.array(self.ext_ids, pa.string())
        where = np.empty(self._n, np.int64)
        where[by_rows] = np.arange(by_rows.size)
        where[np.asarray(self.ext_rows, np.int64)] = by_rows.size + np.arange(len(self.ext_rows))
        return pc.take(pa.concat_arrays([by, ext]), pa.array(where))
