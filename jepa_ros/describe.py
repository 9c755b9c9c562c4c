"""One description per config field, reused for `--help` and ROS ParameterDescriptors."""

from __future__ import annotations

from dataclasses import fields


def help_of(config_class: type, name: str) -> str:
    """The `help` metadata of dataclass field `name` of `config_class`."""
    for f in fields(config_class):
        if f.name == name:
            return f.metadata.get('help', '')
    raise KeyError(f'{config_class.__name__} has no field {name!r}')
