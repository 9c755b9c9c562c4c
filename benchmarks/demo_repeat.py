"""Demo latency over repeated runs (not in CI): `jepa-ros demo` N times, each in a fresh process
as a user runs it, optionally beside busy background processes (a stand-in for other work on
the machine), and one JSON + PNG with every run's goals reached, camera-to-command latency
(p50 / p95 / max) and control rate.

    python benchmarks/demo_repeat.py --runs 5 --goals 10 --json benchmarks/demo_repeat.json
    python benchmarks/demo_repeat.py --runs 3 --goals 10 --busy 1 \
        --json benchmarks/demo_repeat_busy1.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile

KEYS = ('reached', 'goals', 'latency_ms_p50', 'latency_ms_p95', 'latency_ms_max',
        'upstream_ms_p95', 'actor_ms_p95', 'control_rate_hz')  # fmt: skip


def run_once(goals: int, out: Path) -> dict:
    command = [sys.executable, '-m', 'jepa_ros.cli', 'demo', '--goals', str(goals),
               '--out', str(out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed:\n{done.stderr[-2000:]}')
    report = json.loads((out / 'demo.json').read_text())
    return {key: report[key] for key in KEYS}


def figure(runs: list[dict], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    index = range(1, len(runs) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for key, style in (('latency_ms_p50', 'o-'), ('latency_ms_p95', 's-'),
                       ('latency_ms_max', '^:')):  # fmt: skip
        ax.plot(index, [r[key] for r in runs], style, label=key.replace('latency_ms_', ''))
    ax.axhline(100, color='k', ls=':', label='100 ms')
    ax.set(xlabel='run', ylabel='camera-to-command latency (ms)', title=title, ylim=(0, None),
           xticks=list(index))  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--goals', type=int, default=10)
    parser.add_argument('--busy', type=int, default=0,
                        help='busy-looping processes beside the demo (one core each)')  # fmt: skip
    parser.add_argument('--json', type=Path, required=True)
    args = parser.parse_args()
    if args.runs < 1 or args.goals < 1 or args.busy < 0:
        parser.error('--runs and --goals must be >= 1, --busy >= 0')
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass'])
            for _ in range(args.busy)]  # fmt: skip
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for index in range(args.runs):
                runs.append(run_once(args.goals, Path(tmp) / f'run{index}'))
                print(f'run {index + 1}/{args.runs}: ' + ', '.join(
                    f'{k} {v:.0f}' if isinstance(v, float) else f'{k} {v}'
                    for k, v in runs[-1].items()), flush=True)  # fmt: skip
    finally:
        for process in busy:
            process.kill()
    p95 = [r['latency_ms_p95'] for r in runs]
    result = {
        'command': ' '.join(sys.argv),
        'runs': runs,
        'goals_per_run': args.goals,
        'busy_processes': args.busy,
        'reached': sum(r['reached'] for r in runs),
        'goals': sum(r['goals'] for r in runs),
        'latency_ms_p95_worst_run': max(p95),
        'runs_with_p95_at_most_100_ms': sum(v <= 100 for v in p95),
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + '\n')
    title = f'jepa-ros demo, {args.goals} goals per run' + (
        f', {args.busy} busy process(es) beside it' if args.busy else '')  # fmt: skip
    figure(runs, args.json.with_suffix('.png'), title)
    print(f"reached {result['reached']}/{result['goals']}; worst run's p95 "
          f"{result['latency_ms_p95_worst_run']:.0f} ms; {result['runs_with_p95_at_most_100_ms']}"
          f'/{args.runs} runs with p95 <= 100 ms; {args.json}')  # fmt: skip
    return 0


if __name__ == '__main__':
    sys.exit(main())
