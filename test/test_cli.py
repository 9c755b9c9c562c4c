"""`jepa-ros` command line: smoke runs of a few steps and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

from PIL import Image
import pytest

from conftest import write_scene
from jepa_ros.cli.main import COMMANDS


def jepa_ros(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, '-m', 'jepa_ros.cli', *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize('command', [[], *[[c] for c in COMMANDS]])
def test_help(command):
    result = jepa_ros(*command, '--help')
    assert result.returncode == 0
    assert 'usage: jepa-ros' in result.stdout
    for word in ('--episodes', '--out', '--seed', '--scene') if command == ['collect'] else ():
        assert word in result.stdout


def test_collect_smoke(tiny_scene_file, tmp_path):
    out = tmp_path / 'data'
    args = [
        'collect',
        '--episodes',
        '3',
        '--steps',
        '4',
        '--out',
        str(out),
        '--scene',
        str(tiny_scene_file),
        '--goals',
        '3',
        '--workers',
        '2',
        '--shard-episodes',
        '2',
    ]
    result = jepa_ros(*args)
    assert result.returncode == 0, result.stderr
    assert '15 frames, 3 episodes' in result.stdout
    meta = json.loads((out / 'meta.json').read_text())
    assert meta['frames'] == 15 and meta['episodes'] == 3
    assert meta['image_shape'] == [1, 32, 32, 3]
    sheet = Image.open(out / 'contact_sheet.png')
    assert sheet.format == 'PNG' and sheet.width > 3 * 32 and sheet.height > 4 * 32
    # The same command again finds the dataset complete and leaves it as it is
    again = jepa_ros(*args)
    assert again.returncode == 0 and 'already complete' in again.stdout


def _assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('jepa-ros collect: error:')
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize(
    'scene_overrides, words',
    [
        (None, ('unknown scene', 'atlantis')),
        (
            {'cameras': [{'name': 'c', 'eye': [1, 1, 1], 'target': [0, 0, 0], 'width': 0}]},
            ('width must be a positive integer',),
        ),
        (
            {
                'controlled_joints': ['panda_joint1', 'panda_joint2', 'panda_joint4', 'shoulder'],
                'sample_ranges': {
                    'panda_joint1': [0, 1],
                    'panda_joint2': [0, 1],
                    'panda_joint4': [-2, -1],
                    'shoulder': [0, 1],
                },
            },
            ("joint 'shoulder' is not a movable joint",),
        ),
    ],
)
def test_bad_scene_is_one_line_error_and_writes_nothing(tmp_path, scene_overrides, words):
    scene = (
        'atlantis'
        if scene_overrides is None
        else str(write_scene(tmp_path / 'bad.yaml', **scene_overrides))
    )
    out = tmp_path / 'data'
    result = jepa_ros('collect', '--episodes', '1', '--out', str(out), '--scene', scene)
    _assert_one_line_error(result, *words)
    assert not out.exists()


def test_malformed_yaml_is_one_line_error(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('cameras: [\n  - {name: x\n')
    result = jepa_ros(
        'collect', '--episodes', '1', '--out', str(tmp_path / 'd'), '--scene', str(bad)
    )
    _assert_one_line_error(result, 'malformed YAML', str(bad))


def test_folder_with_another_dataset_is_refused(tiny_scene_file, tmp_path):
    out = tmp_path / 'data'
    base = [
        'collect',
        '--episodes',
        '1',
        '--steps',
        '2',
        '--out',
        str(out),
        '--scene',
        str(tiny_scene_file),
        '--no-contact-sheet',
    ]
    assert jepa_ros(*base).returncode == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob('*')}
    result = jepa_ros(*base, '--seed', '7')
    _assert_one_line_error(result, 'already holds a different dataset', 'seed')
    assert {p: p.stat().st_mtime_ns for p in out.rglob('*')} == before, 'nothing written'


def test_bad_numbers_are_one_line_errors(tmp_path):
    result = jepa_ros('collect', '--episodes', '0', '--out', str(tmp_path / 'd'))
    _assert_one_line_error(result, 'episodes must be >= 1')
    assert not Path(tmp_path / 'd').exists()
