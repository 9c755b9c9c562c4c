"""Mode-1: a reactive policy pi(s, s_goal) -> a short action sequence, distilled from mode-2.

The seeds' actor has two modes: mode-2 plans by minimising the energy through the world model
(slow, deliberate), mode-1 maps state and goal straight to an action (fast, reactive) and is
trained to imitate mode-2. Here mode-1 is a small MLP on the world model's latents; `jepa-ros
distill` trains it (jepa_ros/training/distill.py). A policy belongs to one world model: its
checkpoint records that model's fingerprint, and loading it beside another model is an error.

How the actor uses it (`ActorMode`, a task's `actor.mode`):
- `mode2`: plan every tick (no policy);
- `mode1`: the policy's first action alone;
- `mode1_checked`: the policy's action when the world model predicts that it lowers the goal
  energy by `margin` (relative) and the policy's last step, if the last tick was one, did lower
  the measured energy; else a mode-2 plan for that tick;
- `mode2_warm`: mode-2, its search started from the policy's sequence.
In any mode, a task may add a fine stage (`fine_energy` > 0): below that goal energy the tick is
a damped Gauss-Newton step through the world model instead (jepa_ros/planning/fine.py).

Glossary: B batch, H horizon (the policy's sequence), A action dim, D latent dim.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from jepa_ros.device import model_device
from jepa_ros.world_model.checkpoint import CheckpointError, write_atomic
from jepa_ros.world_model.model import WorldModel

MODES = ('mode2', 'mode1', 'mode1_checked', 'mode2_warm')
DEFAULT_POLICY = 'jepa_panda_mode1.pt'  # in models/: distilled from models/jepa_panda.pt
POLICY_FORMAT = 'jepa_ros.mode1/1'


@dataclass(frozen=True)
class ActorMode:
    """How the actor decides each tick (a task's `actor` section in config/tasks.yaml)."""

    mode: str = field(default='mode2', metadata={'help': f'one of {", ".join(MODES)}'})
    margin: float = field(
        default=0.0,
        metadata={'help': "mode1_checked: the policy's action must lower the predicted goal "
                          'energy by this fraction, else mode-2 plans the tick'},
    )  # fmt: skip
    control_rate_hz: float = field(
        default=0.0, metadata={'help': "the demo's control rate for this task (0: the graph's)"}
    )
    fine_energy: float = field(
        default=0.0,
        metadata={'help': 'below this goal energy the fine stage decides the tick, in any mode: '
                          'a damped Gauss-Newton step through the world model '
                          '(jepa_ros/planning/fine.py); 0: off'},
    )  # fmt: skip
    fine_gain: float = field(
        default=0.5, metadata={'help': 'fine stage: fraction of the Gauss-Newton step taken'}
    )
    fine_damping: float = field(
        default=1e-4, metadata={'help': 'fine stage: damping added to the normal equations'}
    )
    fine_max_step_rad: float = field(
        default=0.02, metadata={'help': 'fine stage: largest action per joint'}
    )

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')
        if not 0 <= self.margin < 1:
            raise ValueError(f'margin must be in [0, 1), got {self.margin}')
        if self.control_rate_hz < 0:
            raise ValueError(f'control_rate_hz must be >= 0, got {self.control_rate_hz}')
        if self.fine_energy < 0 or self.fine_damping < 0:
            raise ValueError('fine_energy and fine_damping must be >= 0, got '
                             f'{self.fine_energy} and {self.fine_damping}')  # fmt: skip
        if not 0 < self.fine_gain <= 1:
            raise ValueError(f'fine_gain must be in (0, 1], got {self.fine_gain}')
        if not self.fine_max_step_rad > 0:
            raise ValueError(f'fine_max_step_rad must be > 0, got {self.fine_max_step_rad}')

    @property
    def needs_policy(self) -> bool:
        return self.mode != 'mode2'


@dataclass(frozen=True)
class PolicyConfig:
    """The reactive policy's shape."""

    latent_dim: int
    action_dim: int
    horizon: int = field(default=5, metadata={'help': 'actions per output sequence'})
    max_step_rad: float = field(default=0.1, metadata={'help': 'largest action per joint'})
    hidden: int = field(default=256, metadata={'help': 'MLP width'})
    layers: int = field(default=3, metadata={'help': 'hidden layers'})

    def __post_init__(self) -> None:
        for name in ('latent_dim', 'action_dim', 'horizon', 'hidden', 'layers'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if not self.max_step_rad > 0:
            raise ValueError(f'max_step_rad must be > 0, got {self.max_step_rad}')


class ReactivePolicy(nn.Module):
    """pi(s, s_goal): an MLP on [s, s_goal - s] with LayerNorm; tanh-bounded to the step limit.

    forward: (B, D), (B, D) -> (B, H, A), every entry in [-max_step_rad, max_step_rad]
    """

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__()
        self.config = config
        width = config.hidden
        layers: list[nn.Module] = [nn.Linear(2 * config.latent_dim, width)]
        for _ in range(config.layers - 1):
            layers += [nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, width)]
        layers += [nn.LayerNorm(width), nn.SiLU(),
                   nn.Linear(width, config.horizon * config.action_dim)]  # fmt: skip
        self.net = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        raw = self.net(torch.cat([latent, goal - latent], dim=-1))
        return cfg.max_step_rad * torch.tanh(raw).view(-1, cfg.horizon, cfg.action_dim)


def model_fingerprint(model: WorldModel) -> str:
    """A short hash of the world model's weights: a policy is valid beside this model only."""
    digest = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def save_policy(path: Path, policy: ReactivePolicy, model: WorldModel, metadata: dict) -> None:
    """The policy, its config, its world model's fingerprint and `metadata`, atomically."""
    write_atomic(Path(path), {
        'format_version': POLICY_FORMAT,
        'config': asdict(policy.config),
        'state_dict': {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        'world_model': model_fingerprint(model),
        'metadata': metadata,
    })  # fmt: skip


def load_policy(path: Path, model: WorldModel) -> tuple[ReactivePolicy, dict[str, Any]]:
    """A policy in eval mode on `model`'s device, and its metadata; CheckpointError if it is
    missing, not a policy, or was distilled from another world model."""
    payload = _read_policy(Path(path))
    if payload['world_model'] != model_fingerprint(model):
        raise CheckpointError(
            f'policy {path} was distilled from another world model (fingerprint '
            f"{payload['world_model']}, this model's {model_fingerprint(model)}): run jepa-ros "
            'distill for this checkpoint'
        )
    known = {f.name for f in fields(PolicyConfig)}
    policy = ReactivePolicy(PolicyConfig(**{k: v for k, v in payload['config'].items()
                                            if k in known}))  # fmt: skip
    policy.load_state_dict(payload['state_dict'])
    return policy.eval().to(model_device(model)), payload['metadata']


def _read_policy(path: Path) -> dict[str, Any]:
    """The raw payload of a policy file."""
    if not path.is_file():
        raise CheckpointError(f'policy not found: {path}')
    try:
        payload = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # truncated, not a torch file, ...
        raise CheckpointError(f'policy {path} is truncated or corrupt ({exc})') from None
    if not isinstance(payload, dict) or payload.get('format_version') != POLICY_FORMAT:
        raise CheckpointError(f'{path} is not a jepa_ros mode-1 policy (jepa-ros distill)')
    return payload


def policy_for(mode: ActorMode, model: WorldModel, path: str | Path = '') -> ReactivePolicy | None:
    """The policy a task's actor `mode` needs beside `model` (None for mode2): the file at
    `path`, or the shipped models/jepa_panda_mode1.pt when `path` is empty."""
    if not mode.needs_policy:
        return None
    if not path:
        from jepa_ros.share import find_shared

        try:
            path = find_shared('models', DEFAULT_POLICY)
        except FileNotFoundError as exc:
            raise CheckpointError(f'actor mode {mode.mode!r} needs a policy: {exc}') from None
    return load_policy(Path(path), model)[0]
