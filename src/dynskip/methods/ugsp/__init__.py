"""UGSP, both backbones (``ugsp``: the paper network, ``ugsp-rife``: RIFE v3.9): ``arch`` / ``rife_arch``
(the networks), ``pruning`` (mask heads and masks, shared by both), ``ifblock_kept`` (an IFBlock's
conv0 / lastconv around kept tiles only), ``objective`` (the training phases), ``labels`` (mask labels
from uncertainty and their cache), ``schedules`` (temperature and loss weights per epoch), ``models``
(the registry entries and checkpoint format) and ``export`` (a trained run -> the shipped format).

Nothing is imported here: ``labels`` and ``export`` are also run as ``python -m
dynskip.methods.ugsp.<name>``, which warns when the package has imported the module already.
"""
