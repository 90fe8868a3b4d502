"""BatchNorm folded into the convolution before it: the same eval-mode function, following the weights."""

import torch
from torch import nn

from resnet_edu.nets.fold import fold_bn
from resnet_edu.nets.models import cifar_resnet


def trained_bn(model: nn.Module) -> nn.Module:
    """Give every BN non-trivial running statistics and affine parameters, as after training."""
    torch.manual_seed(0)
    model.train()
    with torch.no_grad():
        model(3 * torch.randn(16, 3, 8, 8) + 1)
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def test_the_folded_network_computes_the_eval_mode_function_and_has_no_batchnorm():
    model = trained_bn(cifar_resnet(8, width=4))
    folded, refresh = fold_bn(model)
    refresh()
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)
    modules = dict(folded.named_modules())
    called = [modules[n.target] for n in folded.graph.nodes if n.op == "call_module"]
    assert not [m for m in called if isinstance(m, nn.BatchNorm2d)]  # every BN went into its convolution


def test_refresh_follows_new_weights_and_running_statistics():
    model = trained_bn(cifar_resnet(8, width=4))
    folded, refresh = fold_bn(model)
    with torch.no_grad():
        model.stem[0].weight.mul_(2.0)
        model.stages[1][0].branch.bn1.running_var.mul_(4.0)
    refresh()
    x = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-5)


def test_a_model_fx_cannot_trace_comes_back_unchanged():
    class Branchy(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x  # data-dependent control flow

    model = Branchy()
    folded, refresh = fold_bn(model)
    assert folded is model and refresh() is None
