"""Fit the whole pipeline on every interaction and save it as a model bundle."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import recfusion.data as data
import recfusion.pipeline as pipeline
from recfusion.config import RunConfig
from recfusion.errors import InputError
from recfusion.serving._bundle import MANIFEST, check_replaceable, save_bundle

logger = logging.getLogger(__name__)


def check_output(out: Path, force: bool) -> None:
    """Refuse an existing bundle without ``force`` and anything that is not a bundle."""
    check_replaceable(out)
    if (out / MANIFEST).is_file() and not force:
        raise InputError(
            f"train: output {out} already holds a model bundle; refusing to replace it "
            "(hint: pass --force; the old bundle stays until the new one is complete)"
        )


def train_bundle(config: RunConfig, out: Path, *, force: bool = False) -> Path:
    """Load the data of ``config``, fit every strategy and the fuser on all of it, save.

    Parameters
    ----------
    config : RunConfig
        The run configuration; its ``data`` section says what to load.
    out : Path
        Bundle directory, replaced atomically (see :func:`save_bundle`).
    force : bool
        Replace an existing bundle (default False: refuse).

    Returns
    -------
    Path
        ``out``.
    """
    out = Path(out)
    check_output(out, force)
    started = time.perf_counter()
    dataset = data.load_dataset(config.data)
    log = dataset.interactions
    logger.info(
        "train: %d interactions, %d users, %d items", log.n_interactions, log.n_users, log.n_items
    )
    recommender = pipeline.fit_recommender(config, log, dataset.side)
    logger.info("train: fitted in %.2f s", time.perf_counter() - started)
    return save_bundle(
        out, recommender, log, config=config, side=dataset.side,
        fingerprint=getattr(dataset, "fingerprint", None),
    )


__all__ = ["check_output", "train_bundle"]
