"""Every method satisfies the protocol's declared parts: a MaskPolicy per model, TrainForward for UGSP."""

from __future__ import annotations

import torch

from dynskip.methods.skipvsr.arch import SkipVSRv2
from dynskip.methods.skipvsr.policy import ReusePolicy, estimator_features
from dynskip.methods.skipvsr.v1.arch import ConfidenceEstimator
from dynskip.methods.ugsp.arch import UGSP
from dynskip.methods.ugsp.pruning import MaskHead
from dynskip.methods.ugsp.rife_arch import UGSPRIFE
from dynskip.skip.protocol import MaskPolicy, SkippingModel, TrainForward
from helpers.models import small_skipvsr


def test_each_model_keeps_its_mask_policy_where_the_protocol_says() -> None:
    v1 = small_skipvsr()
    v2 = SkipVSRv2(num_feat=8, num_block=2)
    ugsp = UGSP()
    policies = [v1.backward_estimator, v1.forward_estimator, v2.policy, *ugsp.mask_heads.values()]
    assert all(isinstance(p, MaskPolicy) for p in policies)
    assert not isinstance(v2.policy.estimator, MaskPolicy)  # a part of the policy, not a policy


def test_logits_is_what_the_forward_computes() -> None:
    torch.manual_seed(0)
    est = ConfidenceEstimator(num_feat=8, num_groups=3, hidden=4)
    x = torch.rand(2, est.in_channels, 3, 5)
    assert torch.equal(est.logits(x), est(x))
    head = MaskHead(16, hidden=4)
    feat = torch.rand(1, 16, 8, 8)
    assert torch.equal(head.logits(feat, (2, 2)), head(feat, (2, 2)))
    policy = ReusePolicy()
    features = estimator_features(torch.rand(1, 1, 2, 3), torch.rand(1, 1, 2, 3), 1)
    assert policy.logits(features).shape == (1, 1, 2, 3)


def test_train_forward_is_declared_by_both_ugsp_archs_only() -> None:
    assert isinstance(UGSP(), TrainForward) and isinstance(UGSPRIFE(), TrainForward)
    v1 = small_skipvsr()
    assert isinstance(v1, SkippingModel) and not isinstance(v1, TrainForward)
