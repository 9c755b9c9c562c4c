"""One description per config field, reused for `--help` and ROS ParameterDescriptors."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
import math
from typing import Any


def help_of(config_class: type, name: str) -> str:
    """The `help` metadata of dataclass field `name` of `config_class`."""
    for f in fields(config_class):
        if f.name == name:
            return f.metadata.get('help', '')
    raise KeyError(f'{config_class.__name__} has no field {name!r}')


@dataclass(frozen=True)
class ParameterSpec:
    """A node parameter as the node declares it: default, description, the allowed closed range
    [low, high] of a number (None: any), and `read_only` for one the node reads at start only
    (a run-time `ros2 param set` of it is refused, not silently ignored)."""

    default: Any
    description: str
    low: float | None = None
    high: float | None = None
    read_only: bool = False

    def __post_init__(self) -> None:
        if not self.description:
            raise ValueError('a parameter needs a description')
        if (self.low is None) != (self.high is None):
            raise ValueError('give both low and high, or neither')
        if self.low is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, (int, float)):
                raise ValueError(f'a range needs a number default, got {self.default!r}')
            if not (math.isfinite(self.low) and self.low <= self.default <= self.high):
                raise ValueError(f'default {self.default} outside [{self.low}, {self.high}]')

    @property
    def range_text(self) -> str:
        return '' if self.low is None else f' [{self.low:g}, {self.high:g}]'


def start_only(parameters: dict[str, ParameterSpec], *names: str) -> dict[str, ParameterSpec]:
    """`parameters` with `names` (all of them if none given) made read-only."""
    chosen = names or tuple(parameters)
    return {n: replace(p, read_only=True) if n in chosen else p for n, p in parameters.items()}
