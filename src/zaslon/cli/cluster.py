"""The scale-out shape's commands: ``zaslon worker`` (a scoring worker), ``zaslon bench cluster``, and ``zaslon bench
soak`` (the same load, sustained, on the embedded default: the two shapes side by side)."""

from __future__ import annotations

import asyncio
import signal

import typer
import uvloop


def run_worker(partitions: str) -> None:
    """Run a scoring worker until SIGTERM/SIGINT (then it snapshots its partitions and lets them go)."""
    from zaslon.adapters import allocator
    from zaslon.adapters.bus.worker import ScoringWorker, parse_partitions
    from zaslon.adapters.db.engine import upgrade
    from zaslon.adapters.logging import configure
    from zaslon.errors import InvalidInput
    from zaslon.settings import Settings

    settings = Settings()
    if not settings.bus_url.startswith("nats://"):
        raise InvalidInput("a worker needs ZASLON_BUS_URL=nats://host:port (the embedded default has no workers)",
                           field="bus_url")
    wanted = parse_partitions(partitions, settings.bus_partitions)
    configure(settings.log_json)
    allocator.tune(settings.malloc_mmap_threshold, settings.malloc_arena_max)
    worker = ScoringWorker(settings, wanted)  # refuses a database other than PostgreSQL
    upgrade(settings.database_url)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    # uvloop, as ``zaslon serve`` runs on: nats-py's and psycopg's callbacks are most of a worker's event loop
    uvloop.run(main())


def register(app: typer.Typer, bench: typer.Typer, evaluate: typer.Typer) -> None:
    del evaluate

    @app.command()
    def worker(
        partitions: str = typer.Option("all", help="the partitions this worker may own: 'all' or e.g. 0-7,12 "
                                       "(several workers may list the same ones: one owns, the others stand by)"),
    ) -> None:
        """Run a scoring worker of the scale-out shape (ZASLON_BUS_URL=nats://…, PostgreSQL)."""
        run_worker(partitions)

    @bench.command("cluster")
    def bench_cluster(
        workers: str = typer.Option("1,2", help="worker counts to measure, comma-separated"),
        seconds: float = typer.Option(20.0, min=1.0, help="seconds of load per worker count"),
        rate: float = typer.Option(1000.0, min=1.0, help="requests per second offered (open loop)"),
        api_nodes: int = typer.Option(1, min=1, max=8, help="API node processes"),
        json_path: str = typer.Option(None, "--json", help="write the figures here"),
    ) -> None:
        """Scale-out throughput, latency, CPU per transfer, duplicates and lost decisions, on a real
        nats-server and PostgreSQL on loopback (started here when ZASLON_TEST_* URLs are not set)."""
        from zaslon.lab.cluster_bench import run_cluster_bench

        counts = [int(x) for x in workers.split(",") if x.strip()]
        run_cluster_bench(counts, seconds=seconds, rate=rate, api_nodes=api_nodes, json_path=json_path)

    @bench.command("soak")
    def bench_soak(
        seconds: float = typer.Option(300.0, min=1.0, help="seconds of load"),
        rate: float = typer.Option(1000.0, min=1.0, help="requests per second offered (open loop)"),
        json_path: str = typer.Option(None, "--json", help="write the figures here"),
    ) -> None:
        """Sustained load on the embedded default (zaslon serve, SQLite): errors, latency and resident memory
        growth after the first minute (the scale-out shape's: bench cluster --workers 1 --seconds 300)."""
        from zaslon.lab.cluster_bench import run_embedded_soak

        run_embedded_soak(seconds=seconds, rate=rate, json_path=json_path)
