"""Training logs: a long-format CSV (stage, step, name, value) and TensorBoard event files."""

from __future__ import annotations

import csv
from pathlib import Path
import time


class TrainingLog:
    """Append scalars to `DIR/metrics.csv` and to TensorBoard events in `DIR/tensorboard/`."""

    FIELDS = ('stage', 'step', 'elapsed_s', 'name', 'value')

    def __init__(self, directory: Path, tensorboard: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.csv_path = self.directory / 'metrics.csv'
        new = not self.csv_path.exists()
        self._file = self.csv_path.open('a', newline='')
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(self.FIELDS)
        self._start = time.perf_counter()
        self._writer = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(str(self.directory / 'tensorboard'))

    def scalars(self, stage: str, step: int, values: dict[str, float]) -> None:
        elapsed = round(time.perf_counter() - self._start, 3)
        for name, value in values.items():
            self._csv.writerow((stage, step, elapsed, name, f'{float(value):.6g}'))
            if self._writer is not None:
                self._writer.add_scalar(f'{stage}/{name}', float(value), step)
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._writer is not None:
            self._writer.close()


class SilentLog:
    """A TrainingLog that writes nothing (the ranks of a torchrun run but rank 0)."""

    def scalars(self, stage: str, step: int, values: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def read_metrics(path: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Read a metrics.csv back: {(stage, name): [(step, value), ...]}."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = {}
    with Path(path).open(newline='') as f:
        for row in csv.DictReader(f):
            key = (row['stage'], row['name'])
            series.setdefault(key, []).append((int(row['step']), float(row['value'])))
    return series
