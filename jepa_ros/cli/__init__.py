"""The `jepa-ros` command line."""

from jepa_ros.cli.main import main

__all__ = ['main']
