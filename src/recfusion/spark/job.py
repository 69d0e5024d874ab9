"""Batch job: the ItemCF neighbour table (and optionally popularity) of a Parquet log.

Run it locally with ``python -m recfusion.spark.job --master 'local[2]' ...`` or hand this
file to ``spark-submit`` (see docs/spark.md). Only the driver imports recfusion: the whole
computation is DataFrame expressions, so executors need no Python packages.

Output ``--out`` is a Parquet directory with columns ``item_id``, ``neighbour_id`` (the
source's ids as strings), ``similarity`` (double) and ``rank`` (1 = best). Ties between
neighbours go to the lower id in string order.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError
from pyspark.sql import DataFrame, SparkSession

from recfusion._io import atomic_directory
from recfusion.columns import ITEM_ID, RANK
from recfusion.config import ColumnsConfig, ItemCFConfig
from recfusion.errors import ConfigError, RecfusionError
from recfusion.spark._frames import read_parquet_log
from recfusion.spark._neighbours import neighbour_frame
from recfusion.spark._popularity import popularity_frame
from recfusion.spark._session import get_spark

logger = logging.getLogger("recfusion.spark.job")

_FLOATS = ("forward_weight", "backward_weight", "position_decay", "time_decay")
_WINDOWS = ("window", "max_pairs_window")


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the job; ItemCF defaults are those of ``ItemCFConfig``."""
    defaults = ItemCFConfig()
    parser = argparse.ArgumentParser(prog="recfusion.spark.job", description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True, help="Parquet file or directory of the log.")
    parser.add_argument("--out", required=True, help="Output Parquet directory (replaced).")
    parser.add_argument("--user-col", default="user_id")
    parser.add_argument("--item-col", default="item_id")
    parser.add_argument("--time-col", default=None, help="Event time; default: row order.")
    parser.add_argument("--popularity-out", default=None, help="Also write item popularity.")
    parser.add_argument("--popularity-window", type=float, default=None, help="Time units.")
    parser.add_argument("--popularity-half-life", type=float, default=None, help="Time units.")
    for name in _FLOATS + _WINDOWS:
        kind = _optional_int if name in _WINDOWS else float
        flag = "--" + name.replace("_", "-")
        about = ItemCFConfig.model_fields[name].description or ""
        if name in _WINDOWS:
            about += " 'none' unsets it."
        parser.add_argument(flag, type=kind, default=getattr(defaults, name), help=about)
    parser.add_argument(
        "--neighbours",
        type=int,
        default=defaults.neighbours,
        help=ItemCFConfig.model_fields["neighbours"].description,
    )
    parser.add_argument(
        "--user-damping", action=argparse.BooleanOptionalAction, default=defaults.user_damping
    )
    parser.add_argument(
        "--master",
        default=None,
        help="Spark master; default: spark-submit's, or local[*] when run with plain python.",
    )
    parser.add_argument("--app-name", default="recfusion-itemcf")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    return parser


def _optional_int(text: str) -> int | None:
    """An integer option where "none" means unset."""
    return None if text.lower() == "none" else int(text)


def item_cf_config(args: argparse.Namespace) -> ItemCFConfig:
    """The validated ItemCF settings of parsed arguments."""
    values = {name: getattr(args, name) for name in _FLOATS + _WINDOWS}
    values.update(neighbours=args.neighbours, user_damping=args.user_damping)
    try:
        return ItemCFConfig(**values)
    except ValidationError as error:
        raise ConfigError(f"recfusion.spark.job: invalid ItemCF option: {error}") from error


def run(spark: SparkSession, args: argparse.Namespace) -> None:
    """Read the log, compute the tables and write them (Parquet)."""
    started = time.perf_counter()
    params = item_cf_config(args)
    columns = ColumnsConfig(user=args.user_col, item=args.item_col, timestamp=args.time_col)
    log = read_parquet_log(spark, args.input, columns)
    neighbours = neighbour_frame(log, params).sortWithinPartitions(ITEM_ID, RANK)
    # Built (and so validated) before any writing; frames are lazy.
    popularity = popularity_frame(log, args.popularity_window, args.popularity_half_life)
    write_parquet(spark, neighbours, args.out)
    logger.info("neighbour table written to %s", args.out)
    if args.popularity_out:
        write_parquet(spark, popularity, args.popularity_out)
        logger.info("popularity written to %s", args.popularity_out)
    logger.info("spark job done in %.1f s", time.perf_counter() - started)


def write_parquet(spark: SparkSession, frame: DataFrame, out: str) -> None:
    """Write ``frame`` to ``out``; on a local file system the directory is swapped in atomically."""
    local = _local_path(spark, out)
    if local is None:
        frame.write.mode("overwrite").parquet(out)
        return
    with atomic_directory(local) as temporary:
        frame.write.mode("overwrite").parquet(str(temporary))


def _local_path(spark: SparkSession, out: str) -> Path | None:
    """``out`` as a local Path when Hadoop resolves it to the local file system, else None."""
    try:
        jvm = spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(out)
        fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        if fs.getScheme() != "file":
            return None
        return Path(str(fs.makeQualified(hadoop_path).toUri().getPath()))
    except Exception:  # noqa: BLE001 - no JVM access (Spark Connect): let Spark write
        return None


def spark_settings(items: Sequence[str]) -> dict[str, str]:
    """``--conf KEY=VALUE`` options as a dict."""
    bad = [item for item in items if "=" not in item or item.startswith("=")]
    if bad:
        raise ConfigError(
            f"recfusion.spark.job: --conf expects KEY=VALUE, received {bad}; "
            "hint: --conf spark.sql.shuffle.partitions=64"
        )
    return dict(item.split("=", 1) for item in items)


def _master(requested: str | None, active: SparkSession | None) -> str | None:
    """The master to ask for: None defers to spark-submit or to an already active session."""
    if requested is not None or active is not None:
        return requested
    # spark-submit starts the Python driver with a gateway port; plain python does not.
    return None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[*]"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code (2 on a recfusion error)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = spark_settings(args.conf)
        item_cf_config(args)
    except RecfusionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    already = SparkSession.getActiveSession()
    spark = get_spark(args.app_name, _master(args.master, already), settings)
    try:
        run(spark, args)
    except RecfusionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        if already is None:
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
