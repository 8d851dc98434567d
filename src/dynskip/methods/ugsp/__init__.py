"""UGSP, both backbones (``ugsp``: the paper network, ``ugsp-rife``: RIFE v3.9): ``arch`` / ``rife_arch``
(the networks), ``pruning`` (mask heads and masks, shared by both), ``ifblock_kept`` (an IFBlock's
conv0 / lastconv around kept tiles only), ``objective`` (the training phases), ``labels`` (mask labels
from uncertainty and their cache), ``schedules`` (temperature and loss weights per epoch) and
``models`` (the registry entries, the checkpoint format and its export).

Their commands live with the other CLIs: ``python -m dynskip.cli.ugsp_labels`` (fill a label cache)
and ``python -m dynskip.cli.ugsp_export`` (a trained run -> the shipped format).
"""
