"""Arguments written once: a registry entry passes keyword arguments to its class, which owns the
defaults; an unknown argument is named with the ones the class takes."""

import inspect

import pytest
from omegaconf import OmegaConf

from dynskip.config import config_dir
from dynskip.models import build_model, get_entry
from dynskip.zoo.registry import constructor_parameters

PASS_THROUGH = ("basicvsr", "rife", "skipvsr", "ugsp", "ugsp-rife")


@pytest.mark.parametrize("name", PASS_THROUGH)
def test_unknown_argument_names_the_class_arguments(name: str) -> None:
    params = sorted(constructor_parameters(get_entry(name).constructor))
    with pytest.raises(TypeError) as err:
        build_model(name, no_such_argument=1)
    assert str(err.value) == f"model '{name}' has no argument(s) ['no_such_argument']; it takes {params}"


def test_the_class_defaults_reach_the_model() -> None:
    ugsp, rife = build_model("ugsp"), build_model("ugsp-rife")
    assert (ugsp.threshold, ugsp.execution_mode, ugsp.budget, ugsp.temperature) == (0.5, "sparse", 0.35, 1.0)
    assert (rife.threshold, rife.execution_mode, rife.budget) == (0.5, "sparse", 0.5)
    vsr = build_model("skipvsr", num_feat=8, num_block=2, num_groups=2, hidden=4)
    assert (vsr.threshold, vsr.execution_mode, vsr.budget, vsr.temperature) == (0.5, "sparse", 0.5, 2.0 / 3.0)
    assert (vsr.tile, vsr.temporal_align, vsr.engine_mode, vsr.refresh) == (8, True, "auto", True)


@pytest.mark.parametrize("name", PASS_THROUGH)
def test_model_yaml_sets_only_class_arguments(name: str) -> None:
    cfg = OmegaConf.load(config_dir() / "model" / f"{name.replace('-', '_')}.yaml")
    params = constructor_parameters(get_entry(name).constructor)
    assert cfg.name == name
    for key in set(cfg) - {"_target_", "name", "weights"}:
        assert key in params, key
        assert params[key].default is not inspect.Parameter.empty, key
