"""What the gate's collision check adds per command: `Guardrails.apply` on the same proposals
with and without the `CollisionModel`, paired, on two workloads per scene:
- `straight`: straight reaches at the step limit (the oracle's commands: start pose -> goal
  joints, 0.1 rad a tick) between the scene's random goals; in `panda_obstacle` many run
  straight into the box, the worst case;
- `actor`: the world-model actor's proposals while it reaches goal images (`jepa-ros eval`'s
  pairs of seed 1000, through the gate, as `--gate` runs them).
Also the check alone (`check_path`) and how many configurations conservative advancement visited.

    python benchmarks/collision_check.py --json benchmarks/collision_check.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

import numpy as np

from jepa_ros.envs.arm_world import ArmWorld
from jepa_ros.envs.scene import load_scene
from jepa_ros.evaluation import scene_guardrails
from jepa_ros.guardrails import Proposal


def reach_commands(scene, pairs: int, seed: int, step: float = 0.1):
    """(measured joints (A,), proposal target (A,)) for every tick of `pairs` straight reaches."""
    rng = np.random.default_rng(seed)
    commands = []
    with ArmWorld(scene, seed=seed) as world:
        for _ in range(pairs):
            start = world.sample_goal(rng).joints
            goal = world.sample_goal(rng).joints
            joints = start.copy()
            while np.max(np.abs(goal - joints)) > 1e-9:
                target = joints + np.clip(goal - joints, -step, step)
                commands.append((joints, target))
                joints = target
    return commands


def actor_commands(scene, pairs: int, seed: int = 1000, budget: int = 50):
    """(measured joints (A,), proposal target (A,)) of every step the gated actor planned."""
    import argparse

    from jepa_ros.cli.eval import GATE_RATE_HZ, make_policy
    from jepa_ros.configurator import load_task
    from jepa_ros.evaluation import GatedPolicy, make_pairs, run_episode
    from jepa_ros.world_model.checkpoint import load_checkpoint

    model, _ = load_checkpoint('models/jepa_panda.pt', scene=scene.to_dict())
    args = argparse.Namespace(no_monitor=False, seed=seed)
    gate = scene_guardrails(scene)
    with ArmWorld(scene, seed=seed) as world:
        recorder = Recorder(make_policy('jepa', model, scene, world, load_task('reach_light'),
                                        args))  # fmt: skip
        policy = GatedPolicy(recorder, gate, 1.0 / GATE_RATE_HZ)
        for start, goal in make_pairs(world, pairs, seed):
            run_episode(world, policy, start, goal, budget)
    gate.collision.close()
    return recorder.commands


class Recorder:
    """A policy's proposals as (measured joints, target), while it is reaching."""

    def __init__(self, policy) -> None:
        self.policy, self.commands = policy, []

    def reset(self, goal) -> None:
        self.policy.reset(goal)

    def act(self, observation):
        action, info = self.policy.act(observation)
        if info.get('outcome', 'reaching') == 'reaching':  # not the configurator's hold
            joints = np.asarray(observation.joints, dtype=float)
            self.commands.append((joints, joints + action))
        return action, info


def time_scene(name: str, pairs: int, seed: int, workload: str) -> dict:
    scene = load_scene(name)
    if workload == 'straight':
        commands = reach_commands(scene, pairs, seed)
    else:
        commands = actor_commands(scene, pairs)
    with_check, without = scene_guardrails(scene), scene_guardrails(scene, collision=False)
    model = with_check.collision
    names = list(scene.controlled_joints)
    added, alone, refused, visited = [], [], 0, []
    for measured, target in commands:
        proposal = Proposal(names, [target.tolist()], [1 / 12])
        state = dict(zip(names, measured.tolist()))
        times = {}
        for label, gate in (('without', without), ('with', with_check)):
            start = time.perf_counter()
            command, _ = gate.apply(proposal, state)
            times[label] = time.perf_counter() - start
            if label == 'with':
                refused += command is None
        added.append(1000 * (times['with'] - times['without']))
        counter = Counter(model)
        start = time.perf_counter()
        model.check_path(measured, target[None])
        alone.append(1000 * (time.perf_counter() - start))
        visited.append(counter.stop())
    model.close()

    def stats(values, key):
        return {f'{key}_p50': float(np.percentile(values, 50)),
                f'{key}_p95': float(np.percentile(values, 95)),
                f'{key}_max': float(np.max(values))}  # fmt: skip

    return {'scene': name, 'workload': workload, 'commands': len(commands), 'refused': refused,
            **stats(added, 'added_ms'), **stats(alone, 'check_path_ms'),
            **stats(visited, 'configurations')}  # fmt: skip


class Counter:
    """Counts the configurations `model` poses until `stop()`."""

    def __init__(self, model) -> None:
        self.model, self.count = model, 0
        self.original = model.set_joints

        def counted(joints):
            self.count += 1
            self.original(joints)

        model.set_joints = counted

    def stop(self) -> int:
        self.model.set_joints = self.original
        return self.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--pairs', type=int, default=30, help='straight reaches per scene')
    parser.add_argument('--actor-pairs', type=int, default=10, help="the actor's reaches")
    parser.add_argument('--seed', type=int, default=5000)
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    results = [time_scene(name, pairs, args.seed, workload)
               for workload, pairs in (('straight', args.pairs), ('actor', args.actor_pairs))
               for name in ('panda', 'panda_obstacle')]  # fmt: skip
    for r in results:
        print(f"{r['scene']}, {r['workload']}: {r['commands']} commands ({r['refused']} "
              f"refused); the check adds "
              f"p50 {r['added_ms_p50']:.2f} ms, p95 {r['added_ms_p95']:.2f} ms; check_path p95 "
              f"{r['check_path_ms_p95']:.2f} ms, {r['configurations_p50']:.0f} configurations "
              f"(p95 {r['configurations_p95']:.0f})")  # fmt: skip
    args.json.write_text(json.dumps({'results': results}, indent=2) + '\n')


if __name__ == '__main__':
    main()
