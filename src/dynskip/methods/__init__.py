"""One home per skipping method (``ugsp/``, ``skipvsr/``), laid out alike: ``arch`` (its nn.Modules),
``objective``, ``labels``, ``schedules``, ``models`` (its registry entries) and ``export``. Methods
build on the shared layers below them (``archs/``, ``skip/``, ``models/registry``); nothing below
imports a method, except ``dynskip.models``' package file, which imports each ``models`` module so
that importing ``dynskip.models`` registers every model.
"""
