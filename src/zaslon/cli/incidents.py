"""Incident commands: extract indicators from a text, and measure extraction on a simulated world."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import typer

from zaslon.errors import InvalidInput


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    incidents = typer.Typer(no_args_is_help=True, help="Incident reports and their indicators.")
    app.add_typer(incidents, name="incidents")
    del bench

    @incidents.command("extract")
    def extract(
        text: str = typer.Argument(None, help="the report text (or use --file, or '-' for stdin)"),
        file: Path = typer.Option(None, "--file", help="read the text from this file (UTF-8)"),
    ) -> None:
        """Print the indicators found in a report as JSON lines (cards only hashed and masked)."""
        from zaslon.core.indicators import extract_indicators
        from zaslon.settings import Settings

        if file is not None:
            try:
                body = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"cannot read {file}: {exc}", field="file") from None
        elif text == "-":
            body = sys.stdin.read()
        elif text is not None:
            body = text
        else:
            raise InvalidInput("give the text as an argument, '-' for stdin, or --file PATH", field="text")
        pepper = Settings().card_pepper.get_secret_value().encode()
        for ind in extract_indicators(body, card_pepper=pepper):
            print(json.dumps({"kind": ind.kind.value, "value": ind.value, "display": ind.display},
                             ensure_ascii=False))

    @evaluate.command("indicators")
    def eval_indicators(
        world: Path = typer.Option(..., help="a directory written by `zaslon simulate`"),
        json_out: Path = typer.Option(None, "--json", help="write the figures here as JSON"),
    ) -> None:
        """Extraction on a world's incident texts: how many of the account ids and phone numbers the texts
        name come out, whether every extracted account exists, and the time per text."""
        import polars as pl
        from rich.progress import track
        from stdnum import luhn

        from zaslon.core.indicators import card_hash, extract_indicators

        try:
            texts = pl.read_parquet(world / "incidents.parquet", columns=["text"])["text"].fill_null("").to_list()
            accounts = set(pl.read_parquet(world / "accounts.parquet", columns=["account_id"])["account_id"])
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise InvalidInput(f"cannot read the world at {world}: {exc}", field="world") from None
        kinds: dict[str, int] = {}
        named_acc = got_acc = extracted_acc = real_acc = named_ph = got_ph = named_cards = got_cards = empty = 0
        elapsed = 0.0
        for text in track(texts, description="extracting", transient=True):
            started = time.perf_counter()
            found = extract_indicators(text, card_pepper=b"eval-pepper")
            elapsed += time.perf_counter() - started
            values = {i.value for i in found}
            empty += not found
            for ind in found:
                kinds[ind.kind.value] = kinds.get(ind.kind.value, 0) + 1
                if ind.kind.value == "account":
                    extracted_acc += 1
                    real_acc += ind.value in accounts
            named = {t for t in re.findall(r"[A-Za-z0-9]{10,34}", text) if t in accounts}
            named_acc += len(named)
            got_acc += len(named & values)
            phones = set(re.findall(r"\+\d{10,14}", text))
            named_ph += len(phones)
            got_ph += len(phones & values)
            cards = {c for c in re.findall(r"(?<!\d)\d{16}(?!\d)", text) if luhn.is_valid(c)}
            named_cards += len(cards)
            got_cards += sum(card_hash(c, b"eval-pepper") in values for c in cards)
        out = {
            "texts": len(texts), "texts_without_indicators": empty, "indicators_by_kind": kinds,
            "accounts_named": named_acc, "accounts_named_extracted": got_acc,
            "accounts_extracted": extracted_acc, "accounts_extracted_in_world": real_acc,
            "phones_named": named_ph, "phones_named_extracted": got_ph,
            "cards_named": named_cards, "cards_named_extracted": got_cards,
            "ms_per_text": round(1000 * elapsed / max(1, len(texts)), 3),
        }
        print(json.dumps(out, indent=2, ensure_ascii=False))
        if json_out is not None:
            json_out.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
