"""Command-line interface: ``recfusion run | train | recommend | serve``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler

from recfusion.config import RunConfig, load_config, parse_config
from recfusion.errors import RecfusionError

app = typer.Typer(
    help="recfusion: multi-strategy recommendation with fusion, benchmarking and serving.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def _setup_logging(verbose: bool, quiet: bool) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in ("numba", "gensim", "optuna", "py4j", "httpx", "faiss"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(exc: Exception) -> None:
    """One clear line instead of a traceback for errors the user can fix."""
    if isinstance(exc, OSError) and not isinstance(exc, RecfusionError):
        where = f" ({exc.filename})" if exc.filename else ""
        message = f"cannot use a file or address{where}: {exc.strerror or exc}"
    else:
        message = str(exc)
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(code=2)


def build_config(
    config_path: Path | None, overrides: dict[str, Any], data_overrides: dict[str, Any]
) -> RunConfig:
    """Config from a TOML file and/or command-line options (options win)."""
    if config_path is not None:
        raw = load_config(config_path).model_dump(mode="json", exclude_none=True)
        source = str(config_path)
    else:
        raw = {}
        source = "command line"
    data = raw.setdefault("data", {})
    if data_overrides.get("dataset") or data_overrides.get("interactions"):
        data.pop("dataset", None)
        data.pop("interactions", None)
    columns = data.setdefault("columns", {})
    for key, value in data_overrides.items():
        if value is None:
            continue
        if key in ("user", "item", "timestamp", "weight"):
            columns[key] = value
        else:
            data[key] = str(value) if isinstance(value, Path) else value
    if not columns:
        data.pop("columns")
    for dotted, value in overrides.items():
        if value is None:
            continue
        if "." in dotted:
            section, key = dotted.split(".")
            raw.setdefault(section, {})[key] = value
        else:
            raw[dotted] = value
    return parse_config(raw, source=source)


def _data_overrides(
    dataset: str | None, interactions: Path | None, user: str | None, item: str | None,
    timestamp: str | None, weight: str | None, items: Path | None, item_id_col: str | None,
) -> dict[str, Any]:
    """The data options of ``run`` and ``train`` keyed as :func:`build_config` expects."""
    return {
        "dataset": dataset, "interactions": interactions, "user": user, "item": item,
        "timestamp": timestamp, "weight": weight, "items": items, "item_id_col": item_id_col,
    }


# Options shared by several commands, declared once.
ConfigOpt = Annotated[Optional[Path], typer.Option(help="TOML config file.")]
DatasetOpt = Annotated[Optional[str], typer.Option(help="Built-in dataset: movielens-100k.")]
InteractionsOpt = Annotated[Optional[Path], typer.Option(help="Interaction log file.")]
UserColOpt = Annotated[Optional[str], typer.Option(help="User id column.")]
ItemColOpt = Annotated[Optional[str], typer.Option(help="Item id column.")]
TimeColOpt = Annotated[Optional[str], typer.Option(help="Timestamp column.")]
WeightColOpt = Annotated[Optional[str], typer.Option(help="Weight column.")]
ItemsOpt = Annotated[Optional[Path], typer.Option(help="Item metadata file.")]
ItemIdColOpt = Annotated[Optional[str], typer.Option(help="Item id column of --items.")]
SeedOpt = Annotated[Optional[int], typer.Option(help="Random seed.")]
EngineOpt = Annotated[
    Optional[str], typer.Option(help="local (default) or spark for ItemCF/popularity.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q")]


@app.command()
def run(
    config: ConfigOpt = None,
    data: DatasetOpt = None,
    interactions: InteractionsOpt = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    time_col: TimeColOpt = None,
    weight_col: WeightColOpt = None,
    items: ItemsOpt = None,
    item_id_col: ItemIdColOpt = None,
    k: Annotated[Optional[int], typer.Option(help="Length of the submitted lists.")] = None,
    seed: SeedOpt = None,
    engine: EngineOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("runs/latest"),
    force: Annotated[bool, typer.Option(help="Overwrite existing outputs.")] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Split, fit every strategy, fuse, evaluate and write the run's outputs."""
    from recfusion._job import run_job
    from recfusion.report import results_table

    _setup_logging(verbose, quiet)
    try:
        resolved = build_config(
            config,
            overrides={"evaluation.k": k, "seed": seed, "engine": engine},
            data_overrides=_data_overrides(
                data, interactions, user_col, item_col, time_col, weight_col, items, item_id_col
            ),
        )
        result = run_job(resolved, out, force=force)
    except (RecfusionError, OSError) as exc:
        _fail(exc)
    Console().print(results_table(result.table, k=10))
    Console().print(f"outputs written to [bold]{out}[/]")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Model bundle directory to write.")],
    config: ConfigOpt = None,
    data: DatasetOpt = None,
    interactions: InteractionsOpt = None,
    user_col: UserColOpt = None,
    item_col: ItemColOpt = None,
    time_col: TimeColOpt = None,
    weight_col: WeightColOpt = None,
    items: ItemsOpt = None,
    item_id_col: ItemIdColOpt = None,
    seed: SeedOpt = None,
    engine: EngineOpt = None,
    force: Annotated[bool, typer.Option(help="Replace an existing bundle.")] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Fit every strategy and the fuser on ALL interactions and save a model bundle."""
    from recfusion.serving import train_bundle

    _setup_logging(verbose, quiet)
    try:
        resolved = build_config(
            config,
            overrides={"seed": seed, "engine": engine},
            data_overrides=_data_overrides(
                data, interactions, user_col, item_col, time_col, weight_col, items, item_id_col
            ),
        )
        train_bundle(resolved, out, force=force)
    except (RecfusionError, OSError) as exc:
        _fail(exc)
    Console().print(f"model bundle written to [bold]{out}[/]")


@app.command()
def recommend(
    model: Annotated[Path, typer.Option(help="Model bundle directory.")],
    users: Annotated[Path, typer.Option(help="CSV with a header and one column of user ids.")],
    out: Annotated[Path, typer.Option(help="Output CSV: user_id,item_1..item_k.")],
    k: Annotated[int, typer.Option(min=1, help="Items per user.")] = 10,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Batch-score users with a bundle; unknown users get the popularity fallback."""
    from recfusion.serving import recommend_file

    _setup_logging(verbose, quiet)
    try:
        summary = recommend_file(model, users, k, out, force=force)
    except (RecfusionError, OSError) as exc:
        _fail(exc)
    Console().print(
        f"{summary.users} users scored ({summary.unknown_users} by popularity) into [bold]{out}[/]"
    )


@app.command()
def serve(
    model: Annotated[Path, typer.Option(help="Model bundle directory.")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    events: Annotated[
        Optional[Path],
        typer.Option(help="SQLite event database (default: events.sqlite3 beside --model)."),
    ] = None,
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Request body limit.")] = 1 << 20,
    kernel_threads: Annotated[
        int,
        typer.Option(
            min=1,
            help="Threads per request in numba/OpenMP/BLAS kernels (sets OMP_NUM_THREADS, "
            "NUMBA_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS); requests already "
            "run in parallel on a thread pool.",
        ),
    ] = 1,
    verbose: VerboseOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Serve the HTTP API (API key from RECFUSION_API_KEY; SIGHUP reloads the bundle)."""
    import os

    # Must precede the first import of numba and FAISS, which read these once.
    for name in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "MKL_NUM_THREADS"):
        os.environ[name] = str(kernel_threads)
    from recfusion.serving import ServingSettings
    from recfusion.serving import serve as run_server

    _setup_logging(verbose, quiet)
    try:
        settings = ServingSettings.from_env(model, events, max_body_bytes=max_body_bytes)
        level = "debug" if verbose else "warning" if quiet else "info"
        run_server(settings, host=host, port=port, log_level=level)
    except (RecfusionError, OSError) as exc:
        _fail(exc)


def main() -> None:
    app()


__all__ = ["app", "build_config", "main"]
