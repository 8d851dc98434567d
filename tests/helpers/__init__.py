"""Small inputs and models shared by several test folders (``tests/`` is on pytest's ``pythonpath``).

``clips``: tiny videos, smooth scenes, carphone frames, frame pairs; ``models``: small skipping models
and tile-engine building blocks; ``training``: tiny Hydra training runs; ``sweeps``: a fabricated
multirun folder. Fixtures (``tiny_data_dir``, ``make_tree``) are in ``tests/conftest.py``.
"""
