"""The model zoo's machinery and the official models: ``registry`` (``register_model``,
``build_model``, ``PretrainedModel``), ``checkpoint`` (safe reading, strict loading with key reports)
and the entries of the shared backbones, ``basicvsr`` and ``rife`` (official weights and formats).

Method entries (``methods/*/models.py``) import these modules; nothing here imports a method. The
public face, which registers every family, is ``dynskip.models``.
"""
