"""Per-module lr multipliers and step-based freezing (the BasicVSR SpyNet recipe)."""

import pytest
import torch
from torch import nn

from dynskip.tasks.param_groups import ModuleRule, apply_freezing, build_param_groups, parse_rules


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.spynet = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 2, 1))
        self.trunk = nn.Conv2d(3, 3, 3)


def test_groups_get_multiplied_lr_and_cover_every_parameter():
    model = Tiny()
    groups = build_param_groups(model, 2e-4, parse_rules([{"prefix": "spynet", "lr_mult": 0.125}]))
    by_name = {g["name"]: g for g in groups}
    assert by_name["spynet"]["lr"] == pytest.approx(2.5e-5)
    assert by_name["default"]["lr"] == pytest.approx(2e-4)
    counted = sum(p.numel() for g in groups for p in g["params"])
    assert counted == sum(p.numel() for p in model.parameters())


def test_longest_prefix_wins():
    rules = parse_rules([{"prefix": "spynet", "lr_mult": 0.1}, {"prefix": "spynet.1", "lr_mult": 0.5}])
    groups = {g["name"]: g for g in build_param_groups(Tiny(), 1.0, rules)}
    assert groups["spynet.1"]["lr"] == 0.5 and len(groups["spynet.1"]["params"]) == 2
    assert len(groups["spynet"]["params"]) == 2


def test_freezing_follows_the_step():
    model = Tiny()
    rules = [ModuleRule("spynet", freeze_steps=5)]
    apply_freezing(model, rules, step=0)
    assert not any(p.requires_grad for p in model.spynet.parameters())
    assert all(p.requires_grad for p in model.trunk.parameters())
    apply_freezing(model, rules, step=5)
    assert all(p.requires_grad for p in model.spynet.parameters())


def test_frozen_group_does_not_move_under_adam():
    model = Tiny()
    rules = [ModuleRule("spynet", lr_mult=1.0, freeze_steps=3)]
    opt = torch.optim.Adam(build_param_groups(model, 1e-2, rules))
    before = model.spynet[0].weight.clone()
    apply_freezing(model, rules, step=0)
    loss = model.trunk(torch.rand(1, 3, 8, 8)).mean() + model.spynet(torch.rand(1, 3, 8, 8)).mean()
    loss.backward()
    opt.step()
    assert torch.equal(before, model.spynet[0].weight)


def test_rule_matching_nothing_is_an_error():
    with pytest.raises(ValueError, match="'spynett' matches no trainable parameter"):
        build_param_groups(Tiny(), 1.0, parse_rules([{"prefix": "spynett"}]))


def test_unknown_rule_key_is_named():
    with pytest.raises(ValueError, match="unknown \\['lr'\\]"):
        parse_rules([{"prefix": "spynet", "lr": 0.1}])
