"""World model units on tiny sizes: losses, monitors, shapes, checkpoints, kinematics."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.kinematics import ForwardKinematics, Proprioception
from jepa_ros.training.losses import vicreg_covariance, vicreg_variance
from jepa_ros.training.monitors import collapse_report, effective_rank
from jepa_ros.training.probe import auroc, linear_probe
from jepa_ros.world_model import (
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
    WorldModel,
    WorldModelConfig,
)  # fmt: skip


def tiny_config(**kw) -> WorldModelConfig:
    base = dict(image_height=32, image_width=32, action_dim=4, latent_dim=16, channels=8,
                keypoints=4, encoder_hidden=16, proprio_dim=7, proprio_hidden=16,
                predictor_hidden=16, predictor_layers=2)  # fmt: skip
    return WorldModelConfig(**{**base, **kw})


# --- VICReg terms on known inputs ----------------------------------------------------------
def test_variance_term_is_one_for_a_constant_and_zero_when_spread():
    constant = torch.ones(64, 8)
    assert float(vicreg_variance(constant)) == pytest.approx(1 - 1e-2, abs=1e-6)
    spread = torch.tensor([[-2.0], [2.0]]).repeat(32, 8)  # std > 2 in every dim
    assert float(vicreg_variance(spread)) == 0.0


def test_covariance_term_on_known_inputs():
    x = torch.randn(4096, 1, generator=torch.Generator().manual_seed(0))
    duplicated = torch.cat([x, x], dim=1)  # off-diagonal covariance = var(x)
    expected = 2 * float(x.var()) ** 2 / 2
    assert float(vicreg_covariance(duplicated)) == pytest.approx(expected, rel=1e-5)
    independent = torch.randn(20000, 4, generator=torch.Generator().manual_seed(1))
    assert float(vicreg_covariance(independent)) < 1e-3


# --- collapse monitors ---------------------------------------------------------------------
def test_effective_rank_counts_used_dimensions():
    g = torch.Generator().manual_seed(0)
    assert effective_rank(torch.randn(4000, 16, generator=g)) > 15.0
    line = torch.randn(4000, 1, generator=g) * torch.randn(1, 16, generator=g)
    assert effective_rank(line) == pytest.approx(1.0, abs=0.05)
    assert effective_rank(torch.ones(100, 16)) == 0.0


def test_constant_encoder_is_flagged_as_collapsed():
    model = WorldModel(tiny_config())
    last = model.image_encoder.head[-1]
    torch.nn.init.zeros_(last.weight)  # the encoder now ignores its input
    images = torch.randint(0, 256, (64, 1, 32, 32, 3), dtype=torch.uint8)
    with torch.no_grad():
        report = collapse_report(model.encode(images))
    assert report.collapsed and report.collapsed_dims == 16
    healthy = collapse_report(torch.randn(64, 16))
    assert not healthy.collapsed


# --- shapes ---------------------------------------------------------------------------------
@pytest.mark.parametrize('batch, latent_dim, action_dim, horizon', [(1, 16, 2, 1), (7, 24, 4, 5)])
def test_predictor_shapes(batch, latent_dim, action_dim, horizon):
    model = WorldModel(tiny_config(latent_dim=latent_dim, action_dim=action_dim))
    s = torch.randn(batch, latent_dim)
    actions = torch.randn(batch, horizon, action_dim)
    assert model.predict(s, actions[:, 0]).shape == (batch, latent_dim)
    rollout = model.rollout(s, actions)
    assert rollout.shape == (batch, horizon, latent_dim)
    torch.testing.assert_close(rollout[:, 0], model.predict(s, actions[:, 0]))
    assert model.energy(s, actions[:, 0], s).shape == (batch,)


@pytest.mark.parametrize('views, size', [(1, 32), (2, 48)])
def test_encoder_shapes_and_bad_images(views, size):
    model = WorldModel(tiny_config(views=views, image_height=size, image_width=size))
    images = torch.zeros(3, views, size, size, 3, dtype=torch.uint8)
    assert model.encode(images).shape == (3, 16)
    with pytest.raises(ValueError, match='images must be'):
        model.encode(torch.zeros(3, views, size + 1, size, 3, dtype=torch.uint8))


@pytest.mark.parametrize('size', [32, 33])
def test_spatial_features_reach_the_latent(size):
    """With `spatial_features`, a linear map of the flattened feature map (its size right for odd
    images too) feeds the head: changing that map changes the latent; off by default."""
    model = WorldModel(tiny_config(image_height=size, image_width=size, spatial_features=8))
    images = torch.randint(0, 256, (2, 1, size, size, 3), dtype=torch.uint8)
    before = model.encode(images)
    assert before.shape == (2, 16)
    with torch.no_grad():
        model.image_encoder.spatial.weight.add_(0.1)
    assert not torch.allclose(model.encode(images), before)
    assert WorldModel(tiny_config()).image_encoder.spatial is None


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match='latent_dim'):
        tiny_config(latent_dim=7)
    with pytest.raises(ValueError, match='channels'):
        tiny_config(channels=0)
    with pytest.raises(ValueError, match='spatial_features'):
        tiny_config(spatial_features=-1)


# --- checkpoints ----------------------------------------------------------------------------
def _saved(tmp_path, **kw):
    model = WorldModel(tiny_config(**kw))
    path = tmp_path / 'model.pt'
    save_checkpoint(path, model, {'scene': {'name': 'tiny', 'controlled_joints': ['a']}})
    return model, path


@pytest.mark.parametrize('spatial', [0, 8])
def test_checkpoint_round_trip_is_exact(tmp_path, spatial):
    model, path = _saved(tmp_path, spatial_features=spatial)
    loaded, metadata = load_checkpoint(path)
    assert metadata['scene']['name'] == 'tiny'
    assert loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    images = torch.randint(0, 256, (2, 1, 32, 32, 3), dtype=torch.uint8)
    model.eval()
    torch.testing.assert_close(model.encode(images), loaded.encode(images), rtol=0, atol=0)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    _, path = _saved(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match='truncated or corrupt'):
        load_checkpoint(path)


def test_checkpoint_mismatches_are_named(tmp_path):
    _, path = _saved(tmp_path)
    with pytest.raises(CheckpointError, match='latent size 16, expected 32'):
        load_checkpoint(path, latent_dim=32)
    with pytest.raises(CheckpointError, match='another scene: controlled_joints'):
        load_checkpoint(path, scene={'name': 'tiny', 'controlled_joints': ['b']})
    payload = torch.load(path, weights_only=True)
    payload['format_version'] = 0
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match='format 0'):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match='not found'):
        load_checkpoint(tmp_path / 'missing.pt')


# --- probes ---------------------------------------------------------------------------------
def test_auroc_on_known_scores():
    assert auroc(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == 1.0
    assert auroc(np.array([2.0, 3.0]), np.array([0.0, 1.0])) == 0.0
    assert auroc(np.array([1.0, 1.0]), np.array([1.0, 1.0])) == 0.5


def test_linear_probe_recovers_a_linear_target_on_held_out_episodes():
    rng = np.random.default_rng(0)
    latents = rng.normal(size=(600, 8))
    targets = latents @ rng.normal(size=(8, 3)) + 0.5
    probe = linear_probe(latents, targets, episode=np.repeat(np.arange(20), 30))
    assert probe.r2.min() > 0.999
    assert len(probe.target) == 6 * 30, 'scored on the last 30% of episodes only'
    noise = linear_probe(rng.normal(size=(600, 8)), targets, np.repeat(np.arange(20), 30))
    assert noise.r2.max() < 0.2


# --- kinematics -----------------------------------------------------------------------------
def test_forward_kinematics_matches_the_simulator(tiny_scene):
    kinematics = ForwardKinematics(
        tiny_scene.urdf(), tiny_scene.controlled_joints, [tiny_scene.ee_link], tiny_scene.home
    )
    rng = np.random.default_rng(0)
    with ArmWorld(tiny_scene) as world:
        for _ in range(10):
            joints = world.sample_configuration(rng)
            world.reset(joints)
            position = kinematics(torch.tensor(joints)[None])[0, 0].numpy()
            np.testing.assert_allclose(position, world.ee_position(), atol=1e-6)


def test_proprioception_features(tiny_scene):
    proprioception = Proprioception(tiny_scene)
    joints = np.zeros((5, tiny_scene.action_dim))
    features = proprioception(joints)
    assert features.shape == (5, proprioception.dim)
    assert proprioception.dim == tiny_scene.action_dim + 3 * len(tiny_scene.proprio_links)


def test_shipped_model_loads_for_the_shipped_scene():
    from jepa_ros.envs.scene import load_scene
    from jepa_ros.share import find_shared

    scene = load_scene('panda')
    model, metadata = load_checkpoint(
        find_shared('models', 'jepa_panda.pt'), scene=scene.to_dict()
    )
    assert model.config.latent_dim == 32 and metadata['train_seconds'] <= 30 * 60
    with ArmWorld(scene) as world:
        images = torch.from_numpy(world.observe().images)[None]
    with torch.no_grad():
        latent = model.encode(images)
    assert latent.shape == (1, 32) and torch.isfinite(latent).all()


def test_shipped_reacher_model_reads_the_joints_of_a_rendered_reacher_frame():
    """models/jepa_reacher.pt: a gymnasium world's checkpoint (Reacher-v5, 4-frame stacks of
    64 px from a 256 px top-down render), under 20 MB; on a frame the test renders itself, the
    latent's cos/sin dims give both joint angles within 0.1 rad."""
    pytest.importorskip('gymnasium')
    pytest.importorskip('mujoco')
    import numpy as np

    from jepa_ros.envs.gym_world import GymWorld, GymWorldConfig
    from jepa_ros.share import find_shared

    path = find_shared('models', 'jepa_reacher.pt')
    assert path.stat().st_size <= 20 * 2**20
    model, metadata = load_checkpoint(path)
    world = metadata['world']
    assert (world['env'], world['proprio'], world['stack']) == ('Reacher-v5', 'obs[0:8]', 4)
    assert model.config.spatial_features == 64
    with GymWorld(GymWorldConfig.from_dict(world)) as reacher:
        env = reacher.env.unwrapped
        reacher.reset(0)
        env.set_state(np.array([0.7, -1.2, 0.1, -0.1]), np.zeros(env.model.nv))
        for _ in range(world['stack']):  # at rest: the whole stack shows the pose
            now = reacher.step(np.zeros(2))[0]
        truth = env.data.qpos[:2].copy()
    with torch.no_grad():
        latent = model.encode(torch.from_numpy(now.images)[None])[0]
    standard = model.proprio_encoder
    features = (latent[:8] * standard.std + standard.mean).double().numpy()
    angles = np.arctan2(features[2:4], features[0:2])
    error = np.abs((angles - truth + np.pi) % (2 * np.pi) - np.pi)
    assert np.all(error < 0.1), (angles, truth)
