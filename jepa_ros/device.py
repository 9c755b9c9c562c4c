"""Where torch runs: `--device cpu|cuda|mps|auto` for train, probe, eval and the nodes.

`auto` takes a CUDA GPU if torch sees one, else Apple's MPS, else the CPU. Asking for a device
torch cannot see is an error that says so (never a silent fall back to the CPU).
"""

from __future__ import annotations

import argparse

import torch

DEVICES = ('cpu', 'cuda', 'mps', 'auto')


class DeviceError(ValueError):
    """A device that is unknown or that this torch cannot see."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, 'mps', None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str) -> torch.device:
    """'cpu', 'cuda', 'cuda:1', 'mps' or 'auto' -> a torch.device this process can use."""
    kind = name.split(':', 1)[0]
    if kind not in DEVICES or (kind in ('cpu', 'mps', 'auto') and ':' in name):
        raise DeviceError(f'unknown device {name!r}: choose one of {", ".join(DEVICES)}')
    if kind == 'auto':
        if torch.cuda.is_available():
            return torch.device('cuda')
        return torch.device('mps') if _mps_available() else torch.device('cpu')
    if kind == 'cuda':
        if not torch.cuda.is_available():
            raise DeviceError(
                f'device {name!r}: torch {torch.__version__} sees no CUDA GPU (built for CUDA '
                f'{torch.version.cuda or "none"}); use --device cpu or auto'
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f'device {name!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s)'
            )
        return device
    if kind == 'mps' and not _mps_available():
        raise DeviceError(f'device {name!r}: torch sees no MPS device; use --device cpu or auto')
    return torch.device(kind)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device a model's parameters are on."""
    return next(model.parameters()).device


def add_device_argument(parser: argparse.ArgumentParser, default: str = 'cpu') -> None:
    parser.add_argument(
        '--device', default=default,
        help=f'{", ".join(DEVICES)} (auto: a CUDA GPU, else MPS, else the CPU; '
             'default: %(default)s)',
    )  # fmt: skip
