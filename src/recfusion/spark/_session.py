"""Creating the SparkSession recfusion runs on."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: Settings for local mode: loopback only, no web UI, few shuffle partitions.
LOCAL_DEFAULTS: dict[str, str] = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.sql.session.timeZone": "UTC",
}


def get_spark(
    app_name: str = "recfusion",
    master: str | None = "local[2]",
    config: Mapping[str, str] | None = None,
) -> SparkSession:
    """Get or create the SparkSession recfusion uses.

    Parameters
    ----------
    app_name : str, default "recfusion"
        Application name shown by the cluster manager.
    master : str or None, default "local[2]"
        Spark master URL. A ``local`` master also applies :data:`LOCAL_DEFAULTS` (driver
        bound to 127.0.0.1, UI disabled, 4 shuffle partitions). None leaves the master and
        every network setting to ``spark-submit`` or ``spark-defaults.conf``: use it on a
        cluster. A local master also sets the environment variable ``SPARK_LOCAL_IP`` to
        127.0.0.1 when it is unset, before the JVM starts.
    config : mapping of str to str, optional
        Extra Spark settings; they override the defaults above.

    Returns
    -------
    SparkSession
        An active session is returned as is (settings that need a new JVM are then ignored).
    """
    started = time.perf_counter()
    builder = SparkSession.builder.appName(app_name)
    settings: dict[str, str] = {}
    if master is not None:
        builder = builder.master(master)
        if master.startswith("local"):
            settings.update(LOCAL_DEFAULTS)
            # Read when the JVM starts: keeps block manager and executor on loopback too.
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings.update(config or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    logger.info(
        "spark session %r on %s ready in %.1f s",
        app_name,
        spark.sparkContext.master,
        time.perf_counter() - started,
    )
    return spark
