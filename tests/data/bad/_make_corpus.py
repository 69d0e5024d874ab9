"""Writes the bad/awkward input corpus of tests/test_bad_inputs.py (run once, files committed).

Usage: ``.venv/bin/python tests/data/bad/_make_corpus.py``. Text files are written as exact
bytes so that BOMs, CRLF line ends and invalid UTF-8 survive; the Parquet files are made
with polars. The expected outcome of every file is in ``cases.toml`` beside this script.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata
from pathlib import Path

import polars as pl

HERE = Path(__file__).resolve().parent
BOM = b"\xef\xbb\xbf"
NFC = unicodedata.normalize("NFC", "Zo\u00eb")
NFD = unicodedata.normalize("NFD", "Zo\u00eb")

TEXT: dict[str, str | bytes] = {
    # --- rejected inputs -------------------------------------------------------------
    "empty.csv": b"",
    "bom_only.csv": BOM + b"\n",
    "header_only.csv": "user,item,ts\n",
    "header_blank_lines.csv": "user,item,ts\n\n\n",
    "missing_user_column.csv": "usr,item,ts\nu1,i1,1\n",
    "misspelt_case.csv": "UserId,item,ts\nu1,i1,1\n",
    "missing_time_column.csv": "user,item,timestamp\nu1,i1,1\n",
    "missing_weight_column.csv": "user,item,ts,rating\nu1,i1,1,5\n",
    "bad_timestamp.csv": "user,item,ts\nu1,i1,1\nu1,i2,2\nu2,i1,yesterday\n",
    "bad_iso_date.csv": "user,item,ts\nu1,i1,2020-01-01\nu1,i2,2020-13-45\n",
    "mixed_time_kinds.csv": "user,item,ts\nu1,i1,1577836800\nu1,i2,2020-01-02\n",
    "nan_timestamp.csv": "user,item,ts\nu1,i1,1\nu1,i2,nan\n",
    "time_only.csv": "user,item,ts\nu1,i1,10:30\nu1,i2,11:00\n",
    "empty_user_id.csv": "user,item,ts\nu1,i1,1\n,i2,2\n",
    "empty_item_id_quoted.csv": 'user,item,ts\nu1,i1,1\nu2,i1,2\nu2,"",3\n',
    "blank_id_spaces.csv": "user,item,ts\nu1,i1,1\n   ,i2,2\n",
    "weight_text.csv": "user,item,ts,w\nu1,i1,1,1\nu1,i2,2,2\nu2,i1,3,abc\n",
    "weight_nan.csv": "user,item,ts,w\nu1,i1,1,NaN\n",
    "weight_empty.csv": "user,item,ts,w\nu1,i1,1,1\nu1,i2,2,\n",
    "weight_inf.csv": "user,item,ts,w\nu1,i1,1,inf\n",
    "too_many_fields.csv": "user,item,ts\nu1,i1,1\nu1,i2,2,extra\n",
    "duplicate_header.csv": "user,item,ts,user\nu1,i1,1,u9\n",
    "extra_field_after_unused_column.csv": "user,item,ts,note\nu1,i1,1,a\nu1,i2,2,b,extra\n",
    "too_few_fields.csv": "user,item,ts\nu1,i1,1\nu1,i2,2\nu2,i3\n",
    "trailing_delimiter.csv": "user,item,ts\nu1,i1,1,\n",
    "interactions.xlsx": "user,item,ts\nu1,i1,1\n",
    "interactions": "user,item,ts\nu1,i1,1\n",
    "corrupt.parquet": b"PAR1 this is not parquet PAR1",
    "latin1.csv": b"user,item,ts\nu1,i1,1\nJos\xe9,i2,2\n",
    "all_zero_weights.csv": "user,item,w\nu1,i1,0\nu2,i1,0\n",
    "wrong_delimiter.csv": "user;item;ts\nu1;i1;1\n",
    "multiline_bad_ts.csv": 'user,item,ts\n"line\nbreak",i1,1\nu2,i1,2\nu2,i2,oops\n',
    "atomic_bad.inter": "user_id:token\titem_id:token\ttimestamp:float\n1\t10\t5\n1\t11\tx\n",
    "double_colon_short.dat": "user::item::ts\n1::10::5\n1::11::6\n2::10\n",
    "unterminated_quote.csv": 'user,item,ts\nu1,i1,1\nu2,"i2,2\nu3,i3,3\n',
    "same_column_twice.csv": "id,ts\na,1\n",
    "items_no_id.log.csv": "user,item\nu1,i1\n",
    "items_no_id.items.csv": "movie,genres\ni1,Drama\n",
    "items_empty_id.log.csv": "user,item\nu1,i1\n",
    "items_empty_id.items.csv": "item,genres\ni1,Drama\n,Comedy\n",
    "negative_only.csv": "user,item,w\nu1,i1,-1\n",
    "weird_delimiter_config.csv": "user,item\nu1,i1\n",
    # --- awkward but valid -----------------------------------------------------------
    "bom_crlf.csv": BOM + b"user,item,ts\r\nu1,i1,3\r\nu1,i2,1\r\nu2,i1,2\r\n",
    "quoted_delimiter.csv": 'user,item,ts\n"a,b",i1,1\n"a,b","i,2",2\nc,"say ""hi""",3\n',
    "semicolon.csv": "user;item;ts\nu1;i1;1\nu1;i2;2\nu2;i1;3\n",
    "semicolon_explicit.txt": "user;item;ts\nu1;i1,x;1\n",
    "unicode_ids.csv": (
        f"user,item,ts\n{NFC},\U0001f3b5,1\n{NFD},\U0001f3b5,2\n\u7528\u6237,caf\u00e9,3\n"
    ),
    "leading_zeros.csv": "user,item,ts\n007,0042,1\n7,42,2\n0007,042,3\n",
    "mixed_case.csv": "user,item,ts\nAlice,Item,1\nalice,item,2\nALICE,ITEM,3\n",
    "iso_dates.csv": (
        "user,item,ts\nu1,a,2020-01-02\nu1,b,2020-01-01T10:00:00Z\n"
        "u1,c,2020-01-01 09:00:00+02:00\nu1,d,2020-01-01T00:00:00.5\n"
    ),
    "no_time_column.csv": "user,item\nu1,c\nu2,a\nu1,a\nu1,b\n",
    "duplicates.csv": "user,item,ts\nu1,i1,1\nu1,i2,2\nu1,i1,1\nu2,i1,1\n",
    "repeats_kept.csv": "user,item,ts\nu1,i1,1\nu1,i2,2\nu1,i1,3\n",
    "weights_zero_negative.csv": "user,item,ts,w\nu1,i1,1,1\nu1,i2,2,0\nu1,i3,3,-1\nu2,i1,4,2.5\n",
    "missing_timestamps.csv": "user,item,ts\nu1,i1,1\nu1,i2,\nu2,i1,3\n",
    "blank_lines.csv": "user,item,ts\nu1,i1,1\n\nu2,i1,2\n\n\n",
    "tab.tsv": "user\titem\tts\nu1\ti1\t1\nu2\ti 2\t2\n",
    "pipe.txt": "user|item|ts\nu1|i1|1\nu2|i2|2\n",
    "double_colon.dat": "user::item::ts\r\n1::10::5\r\n1::11::6\r\n2::10::7\r\n",
    "atomic.inter": "user_id:token\titem_id:token\ttimestamp:float\n1\t10\t5\n1\t11\t4\n",
    "multiline_quoted.csv": 'user,item,ts\n"line\nbreak",i1,1\nu2,i1,2\n',
    "spaces.csv": "user,item,ts\n u1,i1, 5 \nu1,i1,6\n",
    "quoted_numbers.csv": 'user,item,ts,w\nu1,i1,"5","2"\n',
    "exponent_time.csv": "user,item,ts\nu1,i1,1.5e9\nu1,i2,1.4e9\n",
    "ties.csv": "user,item,ts\nu1,b,5\nu1,a,5\nu1,c,1\n",
    "items_cold.log.csv": "user,item,ts\nu1,i1,1\nu2,i2,2\n",
    "items_cold.items.csv": (
        "item,title,genres\ni2,Two,Drama|Comedy\ni3,Three, Horror | Sci-Fi \ni1,One,\n"
    ),
    "users_cold.log.csv": "user,item\nu1,i1\n",
    "users_cold.users.csv": "user,age\nu9,30\nu1,20\n",
    "items_dup.log.csv": "user,item\nu1,i1\n",
    "items_dup.items.csv": "item,title\ni1,First\ni1,Second\n",
    "negative_user_gone.csv": "user,item,w\nu1,i1,1\nu2,i1,-1\n",
}


def write_parquet() -> None:
    """Parquet cases: integer ids, a datetime column, a null id and a truncated file."""
    stamps = [dt.datetime(2020, 1, 1, 0, 0, 1), dt.datetime(2020, 1, 1, 0, 0, 0)]
    frame = pl.DataFrame({"user": [1, 1], "item": [10, 11], "when": stamps})
    frame.write_parquet(HERE / "int_ids.parquet")
    pl.DataFrame({"user": ["u1", None], "item": ["i1", "i2"]}).write_parquet(
        HERE / "null_user.parquet"
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    data = buffer.getvalue()
    (HERE / "truncated.parquet").write_bytes(data[: len(data) // 2])


def main() -> None:
    for name, content in TEXT.items():
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (HERE / name).write_bytes(data)
    write_parquet()


if __name__ == "__main__":
    main()
