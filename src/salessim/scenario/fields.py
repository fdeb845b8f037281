"""Which keys a scenario model allows at a path: for did-you-mean messages."""

from __future__ import annotations

import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel

Path_ = tuple[str, ...]


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types behind Annotated / Optional / Union."""
    origin = get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [t for arg in get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _tag_of(model: type[BaseModel]) -> tuple[str, ...]:
    """The literal values of a union member's discriminator field (``dist`` or ``type``)."""
    for name in ("dist", "type"):
        field = model.model_fields.get(name)
        if field is not None and get_origin(field.annotation) is typing.Literal:
            return get_args(field.annotation)
    return ()


def allowed_keys(model: type[BaseModel], path: Path_) -> list[str]:
    """Keys allowed under ``path``, a pydantic location (union tags such as ``lognormal`` in it)."""
    candidates: list[Any] = [model]
    for key in path:
        models = [t for tp in candidates for t in _unwrap(tp)
                  if isinstance(t, type) and issubclass(t, BaseModel)]
        tagged = [t for t in models if key in _tag_of(t)]
        if tagged:  # a discriminated union's tag: keep only the member it names
            candidates = tagged
            continue
        nxt: list[Any] = []
        for tp in candidates:
            for t in _unwrap(tp):
                if isinstance(t, type) and issubclass(t, BaseModel):
                    for fname, finfo in t.model_fields.items():
                        if key in (fname, finfo.alias):
                            nxt.append(finfo.annotation)
                elif get_origin(t) in (dict, list):
                    nxt.append(get_args(t)[-1])
        candidates = nxt
    keys: list[str] = []
    for tp in candidates:
        for t in _unwrap(tp):
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys += [f.alias or name for name, f in t.model_fields.items()]
    return list(dict.fromkeys(keys))
