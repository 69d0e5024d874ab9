"""Reader of supplied item vectors: layouts, alignment to the catalogue, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from recfusion.data import read_item_vectors
from recfusion.data._vectors import load_vector_file
from recfusion.errors import InputError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_with_header_aligns_to_catalogue_and_appends_new_ids(tmp_path):
    path = _write(tmp_path / "v.csv", "item,x,y\nb,1,2\nd,3,4.5\n")
    new_ids, matrix = read_item_vectors(path, {"a": 0, "b": 1, "c": 2})
    # b is catalogue item 1; d is new and becomes item 3 (after a, b, c).
    assert new_ids.tolist() == ["d"]
    assert matrix.shape == (4, 2) and matrix.dtype == np.float32
    assert np.isnan(matrix[[0, 2]]).all()
    assert matrix[1].tolist() == [1.0, 2.0] and matrix[3].tolist() == [3.0, 4.5]


def test_csv_without_header_and_tsv(tmp_path):
    ids, vectors = load_vector_file(_write(tmp_path / "v.csv", "10,0.5,-1\n11,2,3e-1\n"))
    assert ids.tolist() == ["10", "11"]
    assert np.allclose(vectors, [[0.5, -1], [2, 0.3]])
    ids, vectors = load_vector_file(_write(tmp_path / "v.tsv", "id\ta\nx\t7\n"))
    assert ids.tolist() == ["x"] and vectors.tolist() == [[7.0]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,1,2\nb,3\n", r"line 2 \(id 'b'\) has 1 values; expected 2"),
        ("a,1,2\nb,nan,3\n", r"line 2 \(id 'b'\) column 2 holds nan \(NaN or a missing value\)"),
        ("a,1,2\nb,3,\n", r"line 2 \(id 'b'\) column 3 holds ''; expected a number"),
        ("a,1,2\nb,x,1\n", r"line 2 \(id 'b'\) column 2 holds 'x'"),
        ("id,f1\na,1\nb,2\na,3\n", r"duplicate id 'a' at line 2 and line 4"),
        ("a,1\n,2\n", r"line 2 has an empty id"),
        ("id,f1\n", "holds no vector rows"),
    ],
    ids=["dimension", "nan", "missing", "text", "duplicate", "empty-id", "no-rows"],
)
def test_csv_errors_name_file_row_column_and_value(tmp_path, text, message):
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(InputError, match=message) as info:
        load_vector_file(path)
    assert str(path) in str(info.value)


def test_parquet_list_column_and_numeric_columns(tmp_path):
    listed = tmp_path / "list.parquet"
    pl.DataFrame({"item_id": [1, 2], "vector": [[1.0, 2.0], [3.0, 4.0]]}).write_parquet(listed)
    ids, vectors = load_vector_file(listed)
    assert ids.tolist() == ["1", "2"] and vectors.tolist() == [[1, 2], [3, 4]]
    fixed = tmp_path / "array.parquet"
    pl.DataFrame(
        {"id": ["a"], "v": [[0.5, 1.5]]}, schema={"id": pl.String, "v": pl.Array(pl.Float32, 2)}
    ).write_parquet(fixed)
    assert load_vector_file(fixed)[1].tolist() == [[0.5, 1.5]]
    wide = tmp_path / "wide.parquet"
    pl.DataFrame({"id": ["a", "b"], "f0": [1, 2], "f1": [0.5, 0.25]}).write_parquet(wide)
    assert load_vector_file(wide)[1].tolist() == [[1, 0.5], [2, 0.25]]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pl.DataFrame({"item_id": ["a", "b"], "v": [[1.0, 2.0], [3.0]]}),
         r"row 1 \(id 'b'\) column 'v' holds 1 values; expected 2"),
        (pl.DataFrame({"item_id": ["a", "b"], "f0": [1.0, None]}),
         r"row 1 \(id 'b'\) column 'f0' holds nan \(NaN or a missing value\)"),
        (pl.DataFrame({"item_id": ["a", "a"], "f0": [1.0, 2.0]}),
         "duplicate id 'a' at row 0 and row 1"),
        (pl.DataFrame({"item_id": ["a"], "f0": ["x"]}), "column 'f0' has type String"),
    ],
    ids=["dimension", "null", "duplicate", "text"],
)
def test_parquet_errors(tmp_path, frame, message):
    path = tmp_path / "bad.parquet"
    frame.write_parquet(path)
    with pytest.raises(InputError, match=message):
        load_vector_file(path)


def test_npy_with_id_list(tmp_path):
    np.save(tmp_path / "emb.npy", np.array([[1, 2], [3, 4]], dtype=np.float32))
    _write(tmp_path / "emb.txt", "x\ny\n")
    ids, vectors = load_vector_file(tmp_path / "emb.npy")
    assert ids.tolist() == ["x", "y"] and vectors.tolist() == [[1, 2], [3, 4]]
    _write(tmp_path / "emb.txt", "x\n")
    with pytest.raises(InputError, match="lists 1 ids but .* has 2 rows"):
        load_vector_file(tmp_path / "emb.npy")
    np.save(tmp_path / "nan.npy", np.array([[1, np.inf]]))
    _write(tmp_path / "nan.ids.txt", "z\n")
    with pytest.raises(InputError, match=r"row 0 \(id 'z'\) column 1 holds inf; expected a fin"):
        load_vector_file(tmp_path / "nan.npy")
    np.save(tmp_path / "orphan.npy", np.ones((1, 2)))
    with pytest.raises(InputError, match="no id list"):
        load_vector_file(tmp_path / "orphan.npy")


def test_missing_file_and_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_vector_file(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="suffix '.json'"):
        load_vector_file(_write(tmp_path / "v.json", "{}"))
