"""A CSV logger that appends to an existing ``metrics.csv`` instead of deleting it.

Lightning's ``CSVLogger`` removes ``metrics.csv`` when its folder is not empty, so a run resumed
from step 24 (``ckpt_path=last``) lost the rows of steps 0-23. Here a resumed run appends: the rows
of every segment stay, in order. A step logged after the last checkpoint of a killed run and again
by the resumed run appears twice; the later row is the resumed run's.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pytorch_lightning.loggers import CSVLogger
from pytorch_lightning.loggers.csv_logs import ExperimentWriter
from pytorch_lightning.loggers.logger import rank_zero_experiment


class AppendingExperimentWriter(ExperimentWriter):
    """Lightning's writer, minus the deletion: an existing file's columns are kept and extended."""

    def _check_log_dir_exists(self) -> None:
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="") as file:
            header = next(csv.reader(file), [])
        # Known columns: new keys still extend the header (Lightning rewrites the file keeping its rows).
        self.metrics_keys = sorted(set(header))


class AppendingCSVLogger(CSVLogger):
    """``CSVLogger`` whose ``metrics.csv`` survives a resume (see the module docstring)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = AppendingExperimentWriter(log_dir=self.log_dir)
        return self._experiment
