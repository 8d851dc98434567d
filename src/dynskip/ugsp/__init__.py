"""UGSP training machinery shared by both UGSP backbones (``ugsp``, ``ugsp-rife``): ``labels`` (mask labels
from uncertainty and their cache), ``schedules`` (temperature and loss weights per epoch) and ``export``
(a trained run -> the shipped checkpoint format).

Nothing is imported here: both are also run as ``python -m dynskip.ugsp.<name>``, which warns when the
package has imported the module already.
"""
