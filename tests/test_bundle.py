"""Model bundle: round trip, integrity checks, atomic replacement, batch scoring, train."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from test_serving_support import ITEMS, USERS, SumFuser, build_recommender, install_fuser
from test_serving_support import random_log, toy_log
from typer.testing import CliRunner

import recfusion.data
import recfusion.fusion as fusion
import recfusion.pipeline
from recfusion.cli import app
from recfusion.config import parse_config
from recfusion.errors import BundleError, InputError
from recfusion.recall import SideInfo
from recfusion.serving import load_bundle, read_user_ids, recommend_file, save_bundle
from recfusion.serving import _bundle, train_bundle
from recfusion.serving._scoring import history_rows


@pytest.fixture(autouse=True)
def _fuser(monkeypatch: pytest.MonkeyPatch) -> None:
    install_fuser(monkeypatch)


@pytest.fixture
def toy_bundle(tmp_path: Path) -> Path:
    log = toy_log()
    return save_bundle(tmp_path / "model", build_recommender(log), log)


def _all_recommendations(recommender, log, k=10):
    result = recommender.recommend(log.histories(), k)
    return result.indptr, result.items, result.scores


def test_round_trip_gives_identical_recommendations(tmp_path: Path) -> None:
    log = random_log()
    recommender = build_recommender(log, two_channels=True)
    before = _all_recommendations(recommender, log)
    bundle = load_bundle(save_bundle(tmp_path / "model", recommender, log))
    after = _all_recommendations(bundle.recommender, log)
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    # The stored histories are the training log's, row by row.
    np.testing.assert_array_equal(bundle.history.indptr, log.user_indptr)
    np.testing.assert_array_equal(bundle.history.items, log.items)
    np.testing.assert_array_equal(bundle.history.timestamps, log.timestamps)


def test_ids_survive_exactly(toy_bundle: Path) -> None:
    bundle = load_bundle(toy_bundle)
    assert bundle.user_ids.tolist() == USERS
    assert bundle.item_ids.tolist() == ITEMS
    # Stored as UTF-8 JSON arrays of strings, not escaped and not pickled objects.
    text = (toy_bundle / "ids" / "items.json").read_text("utf-8")
    assert json.loads(text) == ITEMS and "🎬" in text


def test_side_info_and_training_log_reach_the_fuser_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Learned fusion computes features from the training log and side info at load time."""
    log = toy_log()
    side = SideInfo(
        items=pl.DataFrame({"item_id": ITEMS, "genres": [["x"], ["y", "ü"], [], None, ["x"]]}),
        users=pl.DataFrame({"user_id": USERS, "age": [20, None, 41]}),
        item_vectors=np.arange(10, dtype=np.float32).reshape(5, 2),
    )
    received = {}
    loader = fusion.load_fuser

    def recording(directory, feature_log=None, side_info=None):
        received.update(log=feature_log, side=side_info)
        return loader(directory)

    monkeypatch.setattr(fusion, "load_fuser", recording)
    bundle = load_bundle(save_bundle(tmp_path / "m", build_recommender(log), log, side=side))
    assert received["side"] is bundle.side
    assert bundle.side.items.equals(side.items) and bundle.side.users.equals(side.users)
    np.testing.assert_array_equal(bundle.side.item_vectors, side.item_vectors)
    rebuilt = received["log"]
    assert rebuilt.user_ids.tolist() == USERS and rebuilt.item_ids.tolist() == ITEMS
    for name in ("users", "items", "timestamps", "weights"):
        np.testing.assert_array_equal(getattr(rebuilt, name), getattr(log, name))


def test_manifest_lists_every_file_with_checksum_and_size(toy_bundle: Path) -> None:
    manifest = json.loads((toy_bundle / "manifest.json").read_text("utf-8"))
    on_disk = {
        p.relative_to(toy_bundle).as_posix() for p in toy_bundle.rglob("*") if p.is_file()
    }
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for rel, entry in manifest["files"].items():
        data = (toy_bundle / rel).read_bytes()
        assert entry == {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    assert manifest["format_version"] == 1
    assert manifest["counts"] == {"users": 3, "items": 5, "interactions": 8}
    assert manifest["strategies"] == {"popularity": "popularity"}


def test_no_pickle_in_any_array_file(toy_bundle: Path) -> None:
    arrays = [p for p in toy_bundle.rglob("*") if p.suffix in (".npy", ".npz")]
    assert arrays
    for path in arrays:
        loaded = np.load(path, allow_pickle=False)
        values = [loaded] if path.suffix == ".npy" else [loaded[k] for k in loaded.files]
        assert all(v.dtype != object for v in values)


def _flip_byte(path: Path, offset: int = -1) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_tampered_file_is_refused_with_its_name(toy_bundle: Path) -> None:
    _flip_byte(toy_bundle / "history" / "items.npy")
    with pytest.raises(BundleError, match=r"history/items\.npy was modified"):
        load_bundle(toy_bundle)


def test_truncated_file_is_refused_with_its_name(toy_bundle: Path) -> None:
    path = toy_bundle / "recommender" / "strategies" / "popularity" / "arrays.npz"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[: size // 2])
    with pytest.raises(BundleError, match=rf"popularity/arrays\.npz is truncated.*{size} bytes"):
        load_bundle(toy_bundle)


def test_missing_unlisted_and_manifest_faults(toy_bundle: Path) -> None:
    (toy_bundle / "stray.txt").write_text("x")
    with pytest.raises(BundleError, match="stray.txt is not listed"):
        load_bundle(toy_bundle)
    (toy_bundle / "stray.txt").unlink()
    (toy_bundle / "ids" / "users.json").unlink()
    with pytest.raises(BundleError, match=r"ids/users\.json listed in manifest\.json is missing"):
        load_bundle(toy_bundle)


def test_other_format_version_and_broken_manifest_are_refused(toy_bundle: Path) -> None:
    path = toy_bundle / "manifest.json"
    manifest = json.loads(path.read_text("utf-8"))
    path.write_text(json.dumps({**manifest, "format_version": 99}), "utf-8")
    with pytest.raises(BundleError, match="format_version 99"):
        load_bundle(toy_bundle)
    path.write_text('{"format": "recfusion-bundle", "format_', "utf-8")
    with pytest.raises(BundleError, match="manifest.json is not valid UTF-8 JSON"):
        load_bundle(toy_bundle)
    path.unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(toy_bundle)


def test_interrupted_save_keeps_the_previous_bundle(
    toy_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = load_bundle(toy_bundle)
    old_recs = _all_recommendations(old.recommender, toy_log())

    def crash(self, directory: Path) -> list[Path]:
        raise OSError("disk full (simulated) while writing the fuser")

    # The strategies and filler are already written when the fuser's save fails.
    monkeypatch.setattr(SumFuser, "save", crash)
    log = random_log()
    with pytest.raises(OSError, match="simulated"):
        save_bundle(toy_bundle, build_recommender(log), log)
    kept = load_bundle(toy_bundle)
    assert kept.bundle_id == old.bundle_id
    for a, b in zip(old_recs, _all_recommendations(kept.recommender, toy_log())):
        np.testing.assert_array_equal(a, b)
    leftovers = sorted(p.name for p in toy_bundle.parent.iterdir())
    assert leftovers == ["model"], f"temporary directories left behind: {leftovers}"


def test_a_complete_save_replaces_the_bundle(toy_bundle: Path) -> None:
    old_id = load_bundle(toy_bundle).bundle_id
    log = random_log()
    save_bundle(toy_bundle, build_recommender(log), log)
    assert load_bundle(toy_bundle).bundle_id != old_id


def test_load_starts_over_when_the_bundle_is_replaced_midway(
    toy_bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guards against a reload mixing files of two bundles while `train --force` swaps."""
    original = _bundle._load_verified
    seen: list[str] = []

    def racing(path: Path, manifest: dict) -> object:
        seen.append(manifest["bundle_id"])
        if len(seen) == 1:
            log = random_log()
            save_bundle(path, build_recommender(log), log)  # a writer swaps in a new bundle
        return original(path, manifest)

    monkeypatch.setattr(_bundle, "_load_verified", racing)
    bundle = load_bundle(toy_bundle)
    assert len(seen) == 2 and seen[0] != seen[1] == bundle.bundle_id
    assert bundle.user_ids.tolist() == [f"user-{i}" for i in range(40)]


def test_refuses_to_replace_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    log = toy_log()
    with pytest.raises(BundleError, match="not a model bundle"):
        save_bundle(target, build_recommender(log), log)
    assert (target / "notes.txt").read_text() == "keep me"


def test_missing_bundle_points_at_an_interrupted_swap(tmp_path: Path) -> None:
    (tmp_path / ".model.old").mkdir()
    with pytest.raises(BundleError, match=r"does not exist.*previous bundle is at"):
        load_bundle(tmp_path / "model")


def test_history_rows_takes_rows_in_order() -> None:
    log = toy_log()
    rows = history_rows(log.histories(), np.array([2, 0]))
    # User 2 ("u,3") has a, b/c, ü/ß 🎬 (items 0, 1, 2); user 0 has a, b/c (items 0, 1).
    assert rows.indptr.tolist() == [0, 3, 5]
    assert rows.items.tolist() == [0, 1, 2, 0, 1]


# ---- batch scoring -------------------------------------------------------------------------


def _write_users(path: Path, ids: list[str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id"])
        writer.writerows([[user] for user in ids])
    return path


def _read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_batch_scoring_known_and_unknown_users(toy_bundle: Path, tmp_path: Path) -> None:
    users = _write_users(tmp_path / "users.csv", ["ü/ß 🎬", "stranger", "u2"])
    out = tmp_path / "submission.csv"
    summary = recommend_file(toy_bundle, users, 3, out)
    assert (summary.users, summary.unknown_users) == (3, 1)
    # Popularity (distinct users): a=3, b/c=2, ü/ß 🎬=2, d"q=1, e=0; ties by item index.
    # "ü/ß 🎬" saw a, b/c -> ü/ß 🎬, d"q, then e (padding).
    # "u2" saw a, ü/ß 🎬, d"q -> b/c, then e; no third eligible item, so the cell is empty.
    assert _read_rows(out) == [
        ["user_id", "item_1", "item_2", "item_3"],
        ["ü/ß 🎬", "ü/ß 🎬", 'd"q', "e"],
        ["stranger", "a", "b/c", "ü/ß 🎬"],
        ["u2", "b/c", "e", ""],
    ]


def test_batch_scoring_refuses_to_overwrite_without_force(
    toy_bundle: Path, tmp_path: Path
) -> None:
    users = _write_users(tmp_path / "users.csv", ["u2"])
    out = tmp_path / "submission.csv"
    out.write_text("previous")
    with pytest.raises(InputError, match="already exists"):
        recommend_file(toy_bundle, users, 2, out)
    assert out.read_text() == "previous"
    recommend_file(toy_bundle, users, 2, out, force=True)
    assert _read_rows(out)[1] == ["u2", "b/c", "e"]


def test_user_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_text("user_id\nu1\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 3"):
        read_user_ids(path)
    path.write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="is empty"):
        read_user_ids(path)
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match="expected one column or a 'user_id' column"):
        read_user_ids(path)
    path.write_text("\ufeffuser_id,x\n\"q,1\",2\n", encoding="utf-8")
    assert read_user_ids(path) == ["q,1"]


def test_recommend_command(toy_bundle: Path, tmp_path: Path) -> None:
    users = _write_users(tmp_path / "users.csv", ["u,3"])
    out = tmp_path / "s.csv"
    args = ["recommend", "--model", str(toy_bundle), "--users", str(users), "--k", "2",
            "--out", str(out), "-q"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    # "u,3" saw a, b/c, ü/ß 🎬 -> d"q (1 user), then e (padding).
    assert _read_rows(out) == [["user_id", "item_1", "item_2"], ["u,3", 'd"q', "e"]]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output


# ---- train ---------------------------------------------------------------------------------


def _fake_training(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Stand-ins for load_dataset and fit_recommender; returns the configs they saw."""
    seen: list[object] = []
    log = toy_log()

    def load_dataset(config):
        seen.append(config)
        return SimpleNamespace(interactions=log, side=None, fingerprint="f" * 64)

    def fit_recommender(config, interactions, side):
        assert interactions is log
        return build_recommender(interactions)

    monkeypatch.setattr(recfusion.data, "load_dataset", load_dataset)
    monkeypatch.setattr(recfusion.pipeline, "fit_recommender", fit_recommender, raising=False)
    return seen


def test_train_bundle_records_config_and_fingerprint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _fake_training(monkeypatch)
    config = parse_config({"data": {"dataset": "movielens-100k"}})
    out = train_bundle(config, tmp_path / "model")
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert seen == [config.data]
    assert manifest["dataset_fingerprint"] == "f" * 64
    assert manifest["config"]["data"]["dataset"] == "movielens-100k"
    assert "dataset = \"movielens-100k\"" in (out / "config.toml").read_text("utf-8")
    with pytest.raises(InputError, match="already holds a model bundle"):
        train_bundle(config, out)
    train_bundle(config, out, force=True)


def test_train_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_training(monkeypatch)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app, ["train", "--data", "movielens-100k", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    assert load_bundle(out).user_ids.tolist() == USERS
