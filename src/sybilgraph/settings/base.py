"""What every settings section shares: unknown names are errors, assignments are validated."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Section", "json_value"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def json_value(v: Any, name: str, kind: type) -> Any:
    """A structured value given as text (the environment) is JSON; anything else passes through."""
    if isinstance(v, str):
        try:
            v = json.loads(v) if v.strip() else kind()
        except json.JSONDecodeError as e:
            raise ValueError(f"{name} is not JSON: {e.msg}") from None
    return v
