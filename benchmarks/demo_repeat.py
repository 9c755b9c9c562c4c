"""The README's main job on a slow or busy machine (not in CI): `jepa-ros demo` N times, each a
fresh process as a user runs it, optionally pinned to some cores (`--taskset 0`: half of a 2-core
machine) and beside busy processes (`--busy 2`: other work on both cores), optionally alternating
with another source tree (`--compare DIR`, e.g. a checkout of an older commit) so that the two
are measured side by side under the same load. Writes one JSON and one PNG: per run, goals
reached, camera-to-command latency (p50 / p95 / max), whether latency grows within a goal (p95 of
each goal's second half over its first half, pooled), the sustained control rate and the inputs
each newest-only stage skipped.

    python benchmarks/demo_repeat.py --runs 3 --goals 10 --json benchmarks/demo_repeat.json
    python benchmarks/demo_repeat.py --runs 3 --goals 10 --taskset 0 \
        --json benchmarks/demo_one_core.json
    python benchmarks/demo_repeat.py --runs 3 --goals 10 --busy 2 \
        --json benchmarks/demo_busy2.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import platform
import signal
import subprocess
import sys
import tempfile

KEYS = (
    'reached',
    'goals',
    'latency_ms_p50',
    'latency_ms_p95',
    'latency_ms_max',
    'upstream_ms_p95',
    'actor_ms_p95',
    'latency_growth',
    'latency_growth_worst_goal',
    'control_rate_hz',
    'stages',
)
HERE = Path(__file__).resolve().parent.parent


def run_once(
    source: Path, goals: int, out: Path, cpus: set[int] | None, task: str | None = None
) -> dict:
    """One `jepa-ros demo` (of `task` if given) from the source tree `source`, pinned to
    `cpus` if given."""
    command = [
        sys.executable,
        '-m',
        'jepa_ros.cli',
        'demo',
        '--goals',
        str(goals),
        '--out',
        str(out),
        *(['--task', task] if task else []),
    ]
    env = {**os.environ, 'PYTHONPATH': str(source)}
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    done = subprocess.run(
        command, capture_output=True, text=True, cwd=source, env=env, preexec_fn=pin
    )
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{done.stderr[-2000:]}')
    report = json.loads((out / 'demo.json').read_text())
    return {key: report.get(key) for key in KEYS}


def figure(runs: list[dict], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax, growth) = plt.subplots(1, 2, figsize=(10, 3.8))
    for number, source in enumerate(sorted({r['source'] for r in runs})):
        mine = [r for r in runs if r['source'] == source]
        index = range(1, len(mine) + 1)
        for key, style in (
            ('latency_ms_p50', 'o-'),
            ('latency_ms_p95', 's-'),
            ('latency_ms_max', '^:'),
        ):
            label = f'{source}: {key.replace("latency_ms_", "")}'
            ax.plot(
                index,
                [r[key] for r in mine],
                style,
                color=f'C{number}',
                alpha=1.0 if 'p95' in key else 0.5,
                label=label,
            )
        for key, style, what in (('latency_growth', 's-', 'all goals pooled'),
                                 ('latency_growth_worst_goal', '^:', 'worst goal')):  # fmt: skip
            growth.plot(index, [r[key] or np.nan for r in mine], style, color=f'C{number}',
                        label=f'{source}: {what}')  # fmt: skip
        for i, r in zip(index, mine):
            ax.annotate(
                f'{r["reached"]}/{r["goals"]}',
                (i, r['latency_ms_p95']),
                textcoords='offset points',
                xytext=(4, 4),
                fontsize=7,
            )
    ax.axhline(250, color='k', ls=':', label='250 ms')
    ax.set(
        xlabel='run (goals reached at p95)',
        ylabel='camera-to-command latency (ms)',
        title=title,
        ylim=(0, None),
    )
    ax.legend(fontsize=7)
    growth.axhline(1.2, color='k', ls=':', label='1.2')
    growth.set(
        xlabel='run',
        ylabel='p95 second half / first half',
        title='latency growth within a goal',
        ylim=(0, None),
    )
    growth.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def describe(source: Path) -> dict:
    """A source tree and the git commit it is at (with '+' if it has changes)."""

    def git(*args: str) -> str:
        done = subprocess.run(['git', *args], cwd=source, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = '+' if git('status', '--porcelain', '--untracked-files=no') else ''
    return {'path': str(source), 'commit': git('rev-parse', '--short', 'HEAD') + dirty}


def summary(runs: list[dict]) -> dict:
    return {
        'reached': sum(r['reached'] for r in runs),
        'goals': sum(r['goals'] for r in runs),
        'latency_ms_p95_worst_run': max(r['latency_ms_p95'] for r in runs),
        'latency_growth_worst_run': max(r['latency_growth'] or 0.0 for r in runs),
        'control_rate_hz_slowest_run': min(r['control_rate_hz'] or 0.0 for r in runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--goals', type=int, default=10)
    parser.add_argument(
        '--busy',
        type=int,
        default=0,
        help='busy-looping processes beside the demo (one core each)',
    )
    parser.add_argument(
        '--taskset', default='', help="the demo's cores, as taskset -c takes them: '0', '0,1'"
    )
    parser.add_argument(
        '--compare', type=Path, help='another source tree whose demo alternates with this one'
    )
    parser.add_argument('--task', help="the demo's --task (default: the demo's default)")
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    if args.runs < 1 or args.goals < 1 or args.busy < 0:
        parser.error('--runs and --goals must be >= 1, --busy >= 0')
    cpus = {int(c) for c in args.taskset.split(',')} if args.taskset else None
    sources = {'this': HERE, **({'compare': args.compare.resolve()} if args.compare else {})}
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a kill still ends the busy ones
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(args.busy)]
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for index in range(args.runs):
                for name, source in sources.items():
                    out = Path(tmp) / f'{name}{index}'
                    measured = run_once(source, args.goals, out, cpus, args.task)
                    runs.append({'source': name, **measured})
                    r = runs[-1]
                    growth = r['latency_growth']  # None from a tree that does not report it
                    print(
                        f'run {index + 1}/{args.runs} {name}: reached {r["reached"]}/'
                        f'{r["goals"]}, p50 {r["latency_ms_p50"]:.0f} ms, p95 '
                        f'{r["latency_ms_p95"]:.0f} ms, growth '
                        f'{"-" if growth is None else f"{growth:.2f}"}, '
                        f'{r["control_rate_hz"]:.1f} Hz',
                        flush=True,
                    )
    finally:
        for process in busy:
            process.kill()
    result = {
        'command': ' '.join(sys.argv),
        'machine': {'cpus': os.cpu_count(), 'processor': platform.processor()},
        'goals_per_run': args.goals,
        'busy_processes': args.busy,
        'taskset': args.taskset or None,
        'sources': {name: describe(path) for name, path in sources.items()},
        **{name: summary([r for r in runs if r['source'] == name]) for name in sources},
        'runs': runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    load = [f'cores {args.taskset}' if args.taskset else 'all cores']
    load += [f'{args.busy} busy process(es) beside it'] if args.busy else []
    figure(
        runs,
        args.json.with_suffix('.png'),
        f'jepa-ros demo, {args.goals} goals per run, ' + ', '.join(load),
    )
    for name in sources:
        s = result[name]
        print(
            f"{name}: reached {s['reached']}/{s['goals']}; worst run's p95 "
            f'{s["latency_ms_p95_worst_run"]:.0f} ms; worst growth '
            f'{s["latency_growth_worst_run"]:.2f}; {args.json}'
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
