"""One home per skipping method (``ugsp/``, ``skipvsr/``), laid out alike: ``arch`` (its nn.Modules),
``objective``, ``labels``, ``schedules``, ``models`` (its registry entries) and ``export``. Methods
build on the shared layers below them (``archs/``, ``skip/``, ``zoo/``); nothing below imports a
method. ``dynskip.models``, the public face above them, imports each ``models`` module so that
importing it registers every model.
"""
