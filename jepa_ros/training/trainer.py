"""Two-stage self-supervised training of the JEPA world model on exploration data.

Stage 1, representation (`encoder_step`): a cross-modal JEPA between the camera image and the
arm's own sensing. The image latent s = Enc(x) must predict the proprioceptive embedding
p = Prop(q) of the same instant (invariance term) and its change between consecutive frames
(temporal term: the encoder's error must not jitter from frame to frame, or no predictor can beat
"no change"), while VICReg variance and covariance terms keep every learned latent dimension
informative (no collapse). Joint positions, and link positions computed from them with the URDF,
are the robot's own sensing, not a task label: no reward and no goal enter training.

Stage 2, dynamics (`predictor_step`): the encoder is frozen, every frame's latent is cached, and
the predictor learns s_{t+1} = Pred(s_t, a_t) from open-loop K-step rollouts plus teacher-forced
steps. (Trained jointly with the encoder, a predictor was no better than "no change".)

Both stages run on `--device` and, under torchrun, data-parallel over ranks (see
jepa_ros/training/distributed.py: a global batch gives the same loss as one process).

Glossary: B batch, K rollout steps, V views, H x W image size, A action dim, D latent dim.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
import math
import time
from typing import Any

import numpy as np
import torch

from jepa_ros.data.dataset import ExplorationDataset
from jepa_ros.training.distributed import Cluster
from jepa_ros.training.log import TrainingLog
from jepa_ros.training.losses import prediction_loss, vicreg_covariance, vicreg_variance
from jepa_ros.training.monitors import collapse_report
from jepa_ros.training.probe import encode_dataset
from jepa_ros.world_model.model import WorldModel


@dataclass(frozen=True)
class TrainConfig:
    """Training schedule and loss weights; every term is logged."""

    seed: int = field(default=0, metadata={'help': 'seed for initialisation and batches'})
    encoder_steps: int = field(default=9000, metadata={'help': 'stage 1 steps (representation)'})
    predictor_steps: int = field(default=6000, metadata={'help': 'stage 2 steps (dynamics)'})
    batch_size: int = field(default=128, metadata={'help': 'stage 1 frames per step'})
    predictor_batch_size: int = field(default=512, metadata={'help': 'stage 2 windows per step'})
    encoder_lr: float = field(default=1e-3, metadata={'help': 'stage 1 learning rate (AdamW)'})
    predictor_lr: float = field(default=1e-3, metadata={'help': 'stage 2 learning rate'})
    weight_decay: float = field(default=1e-4, metadata={'help': 'AdamW weight decay'})
    min_lr_fraction: float = field(
        default=0.05, metadata={'help': 'cosine decay of each stage ends at this fraction of lr'}
    )
    invariance_weight: float = field(default=50.0, metadata={'help': 'image->proprio term'})
    temporal_weight: float = field(
        default=200.0, metadata={'help': 'the same on changes between consecutive frames'}
    )
    variance_weight: float = field(default=25.0, metadata={'help': 'VICReg variance term'})
    covariance_weight: float = field(default=1.0, metadata={'help': 'VICReg covariance term'})
    rollout_steps: int = field(default=5, metadata={'help': 'K, open-loop steps in stage 2'})
    teacher_forcing_weight: float = field(default=1.0, metadata={'help': '1-step term, stage 2'})
    log_every: int = field(default=25, metadata={'help': 'steps between loss log rows'})
    monitor_every: int = field(default=250, metadata={'help': 'steps between collapse checks'})
    checkpoint_every: int = field(default=500, metadata={'help': 'steps between checkpoints'})

    def __post_init__(self) -> None:
        for name in ('batch_size', 'predictor_batch_size', 'rollout_steps', 'log_every',
                     'monitor_every', 'checkpoint_every'):  # fmt: skip
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        for name in ('encoder_steps', 'predictor_steps'):
            if getattr(self, name) < 0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if self.batch_size < 4 or self.batch_size % 2:
            raise ValueError(f'batch_size must be even and >= 4, got {self.batch_size}')


def cosine_lr(base: float, step: int, total: int, min_fraction: float) -> float:
    """Cosine decay from `base` at step 0 to `base * min_fraction` at `total`."""
    progress = min(step / max(total, 1), 1.0)
    return base * (min_fraction + (1 - min_fraction) * 0.5 * (1 + math.cos(math.pi * progress)))


class EncoderObjective(torch.nn.Module):
    """Stage 1's loss as a module (what DistributedDataParallel wraps): the cross-modal JEPA
    with VICReg regularisation, its batch statistics over the global batch (`gather`)."""

    def __init__(self, model: WorldModel, config: TrainConfig, gather=lambda z: z) -> None:
        super().__init__()
        self.image_encoder = model.image_encoder
        self.proprio_encoder = model.proprio_encoder
        self.config = config
        self.proprio_dim = model.config.proprio_dim
        self.gather = gather

    def forward(self, images: torch.Tensor, proprio: torch.Tensor) -> dict[str, torch.Tensor]:
        """images (B, V, H, W, 3) uint8 and proprio (B, P): frames t first, then their
        successors t+1 -> the loss and its terms, each ()."""
        cfg = self.config
        # Step 1. Forward: image latent and proprioceptive embedding of the same frames
        latent = self.image_encoder(images)  # (B, D)
        embedding = self.proprio_encoder(proprio)  # (B, D)
        # Step 2. Loss: predict one from the other; keep the learned dims spread and decorrelated
        # (the first P dims of the proprioceptive embedding are standardised features, fixed)
        p = self.proprio_dim
        invariance = prediction_loss(latent, embedding)
        half = latent.shape[0] // 2  # changes from frame t to t+1 must agree too
        temporal = prediction_loss(
            latent[half:] - latent[:half], embedding[half:] - embedding[:half]
        )
        every_latent, every_embedding = self.gather(latent), self.gather(embedding)
        variance = vicreg_variance(every_latent) + vicreg_variance(every_embedding[:, p:])
        covariance = vicreg_covariance(every_latent[:, p:]) + vicreg_covariance(
            every_embedding[:, p:]
        )
        loss = (
            cfg.invariance_weight * invariance
            + cfg.temporal_weight * temporal
            + cfg.variance_weight * variance
            + cfg.covariance_weight * covariance
        )
        return {'loss': loss, 'invariance': invariance, 'temporal': temporal,
                'variance': variance, 'covariance': covariance}  # fmt: skip


class PredictorObjective(torch.nn.Module):
    """Stage 2's loss as a module: K-step open-loop plus teacher-forced latent prediction."""

    def __init__(self, model: WorldModel, config: TrainConfig) -> None:
        super().__init__()
        self.predictor = model.predictor
        self.teacher_forcing_weight = config.teacher_forcing_weight

    def forward(self, latents: torch.Tensor, actions: torch.Tensor) -> dict[str, torch.Tensor]:
        """latents (B, K+1, D), actions (B, K, A) -> the loss and its terms, each ()."""
        # Step 1. Roll out open loop from the first latent; predict each step from the truth
        rollout = self.predictor.rollout(latents[:, 0], actions)  # (B, K, D)
        b, k, d = rollout.shape
        teacher = self.predictor(latents[:, :-1].reshape(b * k, d), actions.reshape(b * k, -1))
        # Step 2. Loss against the encoder's latents of what really happened
        open_loop = prediction_loss(rollout, latents[:, 1:])
        one_step = prediction_loss(teacher.view(b, k, d), latents[:, 1:])
        identity = prediction_loss(latents[:, :1].expand(-1, k, -1), latents[:, 1:]).detach()
        loss = open_loop + self.teacher_forcing_weight * one_step
        return {'loss': loss, 'open_loop': open_loop, 'one_step': one_step,
                'identity': identity}  # fmt: skip


class Trainer:
    """Runs both stages with resumable checkpoints. Built by the caller from its parts: the
    model already on `cluster.device`; `log` and `save` write only on the main rank."""

    def __init__(
        self,
        model: WorldModel,
        dataset: ExplorationDataset,
        proprio: torch.Tensor,
        config: TrainConfig,
        log: TrainingLog,
        save: Callable[[WorldModel, dict[str, Any]], None],
        cluster: Cluster | None = None,
    ) -> None:
        cluster = cluster or Cluster()
        cluster.check_divides('batch_size / 2', config.batch_size // 2)
        cluster.check_divides('predictor_batch_size', config.predictor_batch_size)
        self.model = model
        self.dataset = dataset
        self.config = config
        self.log = log
        self.save = save
        self.cluster = cluster
        self.device = cluster.device
        self.encoder_objective = cluster.wrap(EncoderObjective(model, config, cluster.gather))
        self.predictor_objective = cluster.wrap(PredictorObjective(model, config))
        self.rng = np.random.default_rng(config.seed)
        self.step = {'encoder': 0, 'predictor': 0}
        encoder_params = [*model.image_encoder.parameters(), *model.proprio_encoder.parameters()]
        self.encoder_optimizer = torch.optim.AdamW(
            encoder_params, lr=config.encoder_lr, weight_decay=config.weight_decay
        )
        self.predictor_optimizer = torch.optim.AdamW(
            model.predictor.parameters(), lr=config.predictor_lr, weight_decay=config.weight_decay
        )
        self.frames = np.arange(len(dataset))
        self.pairs = dataset.transition_starts(1)  # (T,)
        self.windows = dataset.transition_starts(config.rollout_steps)  # (T,)
        self.actions = torch.from_numpy(dataset.get('actions')).to(self.device)  # (N, A)
        self.proprio = proprio.to(self.device)  # (N, P) proprioceptive features of every frame
        self.latents: torch.Tensor | None = None  # (N, D), cached in stage 2

    # --- stage 1 ---------------------------------------------------------------------------
    def encoder_batch(self) -> dict[str, torch.Tensor]:
        """This rank's part of B/2 consecutive frame pairs: frames t first, then their
        successors t+1 (every rank draws the same global batch)."""
        starts = np.sort(self.rng.choice(self.pairs, self.config.batch_size // 2, replace=False))
        starts = self.cluster.part(starts)
        idx = np.concatenate([starts, starts + 1])
        images = torch.from_numpy(self.dataset.get('images', idx))  # (B, V, H, W, 3)
        return {'images': images.to(self.device), 'proprio': self.proprio[idx]}  # (B, P)

    def encoder_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step of the cross-modal JEPA with VICReg regularisation."""
        terms = self.encoder_objective(batch['images'], batch['proprio'])
        self.encoder_optimizer.zero_grad(set_to_none=True)
        terms['loss'].backward()
        self.encoder_optimizer.step()
        return {name: value.item() for name, value in terms.items()}

    # --- stage 2 ---------------------------------------------------------------------------
    def cache_latents(self) -> torch.Tensor:
        """Encode every frame with the frozen encoder: (N, D), each rank its own part of the
        frames, gathered."""
        self.model.eval()
        frames = np.array_split(self.frames, self.cluster.world_size)[self.cluster.rank]
        part = encode_dataset(self.model, self.dataset, frames, self.device)
        self.model.train()
        return torch.from_numpy(self.cluster.gather_arrays(part)).to(self.device)

    def predictor_batch(self) -> dict[str, torch.Tensor]:
        """This rank's part of B K-step windows."""
        k = self.config.rollout_steps
        starts = self.cluster.part(self.rng.choice(self.windows, self.config.predictor_batch_size))
        steps = torch.from_numpy(starts[:, None] + np.arange(k + 1)).to(self.device)  # (B, K+1)
        return {
            'latents': self.latents[steps],  # (B, K+1, D)
            'actions': self.actions[steps[:, :k]],  # (B, K, A)
        }

    def predictor_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One step of K-step open-loop plus teacher-forced latent prediction."""
        terms = self.predictor_objective(batch['latents'], batch['actions'])
        self.predictor_optimizer.zero_grad(set_to_none=True)
        terms['loss'].backward()
        self.predictor_optimizer.step()
        info = {name: value.item() for name, value in terms.items()}
        info['vs_identity'] = info['open_loop'] / max(info.pop('identity'), 1e-12)
        return info

    # --- schedule --------------------------------------------------------------------------
    def monitor(self, stage: str) -> dict[str, float]:
        """Collapse monitors on a fixed random sample of frames."""
        idx = np.sort(np.random.default_rng(0).choice(self.frames, min(1024, len(self.frames))))
        with torch.no_grad():
            images = torch.from_numpy(self.dataset.get('images', idx)).to(self.device)
            latent = self.model.encode(images).cpu()
        report = collapse_report(latent).as_dict()
        self.log.scalars(stage, self.step[stage], report)
        return report

    def state(self) -> dict[str, Any]:
        return {
            'step': dict(self.step),
            'rng': self.rng.bit_generator.state,
            'encoder_optimizer': self.encoder_optimizer.state_dict(),
            'predictor_optimizer': self.predictor_optimizer.state_dict(),
            'torch_rng': torch.get_rng_state(),
            'train_config': asdict(self.config),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.step = dict(state['step'])
        self.rng.bit_generator.state = state['rng']
        self.encoder_optimizer.load_state_dict(state['encoder_optimizer'])
        self.predictor_optimizer.load_state_dict(state['predictor_optimizer'])
        torch.set_rng_state(state['torch_rng'])

    def run(self, progress: Callable[[str, int, int], Any] | None = None) -> dict[str, float]:
        """Both stages from wherever the last checkpoint left off; returns the last log row."""
        cfg = self.config
        info: dict[str, float] = {}
        for stage, total, make_batch, step_fn in (
            ('encoder', cfg.encoder_steps, self.encoder_batch, self.encoder_step),
            ('predictor', cfg.predictor_steps, self.predictor_batch, self.predictor_step),
        ):
            if stage == 'predictor' and self.step['predictor'] < total:
                self.latents = self.cache_latents()
            bar = progress(stage, self.step[stage], total) if progress else None
            started, first = time.perf_counter(), self.step[stage]
            optimizer = self.encoder_optimizer if stage == 'encoder' else self.predictor_optimizer
            base_lr = cfg.encoder_lr if stage == 'encoder' else cfg.predictor_lr
            while self.step[stage] < total:
                for group in optimizer.param_groups:
                    group['lr'] = cosine_lr(base_lr, self.step[stage], total, cfg.min_lr_fraction)
                info = step_fn(make_batch())
                self.step[stage] += 1
                step = self.step[stage]
                if step % cfg.log_every == 0 or step == total:
                    info = self.cluster.mean(info)  # the global batch's (every rank, same steps)
                    elapsed = max(time.perf_counter() - started, 1e-9)
                    info['steps_per_second'] = (step - first) / elapsed
                    info['lr'] = optimizer.param_groups[0]['lr']
                    self.log.scalars(stage, step, info)
                monitored = step % cfg.monitor_every == 0 or step == total
                if stage == 'encoder' and monitored and self.cluster.main:
                    info.update(self.monitor(stage))
                if step % cfg.checkpoint_every == 0 or step == total:
                    self.save(self.model, self.state())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f'{info["loss"]:.4f}')
            if bar is not None:
                bar.close()
        return info
