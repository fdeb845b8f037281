"""What every input model shares: frozen, no unknown keys, and the shape of an id."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class Frozen(BaseModel):
    """An input model: immutable, a misspelt key is an error, not a silent default, and NaN
    or infinity is never a valid number."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


#: The id of a stage, role, source or task: no dots, so KPI names stay unambiguous.
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_\-]*$")]
