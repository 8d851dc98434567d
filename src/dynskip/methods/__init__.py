"""One home per skipping method (``ugsp/``, ``skipvsr/``), laid out alike: ``arch`` (its nn.Modules),
``objective``, ``labels``, ``schedules`` and ``models`` (its registry entries, checkpoint format and
export). Their commands (label caches, exports) live with the other CLIs in ``dynskip.cli``. Methods
build on the shared layers below them (``archs/``, ``skip/``, ``zoo/``); nothing below imports a
method. ``dynskip.models``, the public face above them, imports each ``models`` module so that
importing it registers every model.
"""
