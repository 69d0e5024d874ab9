"""Markdown reference of every config key, generated from the pydantic models.

``docs/config.md`` is this text; a test keeps the two equal, so the reference cannot drift
from the code. Regenerate with ``python -m recfusion._config_docs > docs/config.md``.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from recfusion import config

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("(top level)", config.RunConfig),
    ("[data]", config.DataConfig),
    ("[data.columns]", config.ColumnsConfig),
    ("[split]", config.SplitConfig),
    ("[fusion]", config.FusionConfig),
    ("[evaluation]", config.EvaluationConfig),
]


def _strategy_sections() -> list[tuple[str, type[BaseModel]]]:
    members = typing.get_args(typing.get_args(config.StrategyConfig)[0])
    return [
        (f'[strategies.NAME] with kind = "{member.model_fields["kind"].default}"', member)
        for member in members
    ]


def _default(field: Any) -> str:
    if field.default_factory is not None:
        value = field.default_factory()
        return "(sections below)" if isinstance(value, dict) and value and all(
            isinstance(v, BaseModel) for v in value.values()
        ) else f"`{value!r}`"
    if field.default is PydanticUndefined:
        return "required"
    if isinstance(field.default, BaseModel):
        return "(section)"
    return f"`{field.default!r}`"


def _type_name(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    return text.replace("typing.", "").replace("pathlib.", "").replace("|", "or")


def _table(model: type[BaseModel]) -> list[str]:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        meaning = (field.description or "").replace("|", "/")
        lines.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |"
        )
    return lines


def config_reference() -> str:
    """The whole reference as Markdown."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from `src/recfusion/config.py` by `python -m recfusion._config_docs`.",
        "A config is a TOML file passed with `recfusion run --config FILE`; unknown keys",
        "are errors that name their path. Strategies are named sections",
        "`[strategies.NAME]`, each with a `kind`; the defaults are popularity, itemcf, als",
        "and item2vec.",
    ]
    for title, model in [*SECTIONS, *_strategy_sections()]:
        summary = ((model.__doc__ or "").strip().splitlines() or [""])[0]
        lines += ["", f"## {title}", ""] + ([summary, ""] if summary else [])
        lines += _table(model)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_reference(), end="")
