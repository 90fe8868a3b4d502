"""BatchNorm folded into the convolution before it: the same eval-mode function, fewer kernels.

`landscape` evaluates thousands of weight settings of one network; folding each BN into its
convolution (and keeping the weights channels_last) makes every evaluation cheaper.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def fold_bn(model: nn.Module) -> tuple[nn.Module, Callable[[], None]]:
    """A traced copy of `model` for eval mode whose convolutions absorb the BatchNorm after them.

    Returns the network and `refresh()`, which recomputes the folded weights from the model's current
    parameters and running statistics: W' = W gamma / sqrt(var + eps), b' = beta - mean gamma / sqrt(var
    + eps). The folded convolutions keep their weights in channels_last. Untraceable models come back
    unchanged.
    """
    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception:  # any Python control flow fx cannot follow: evaluate the model itself
        return model, lambda: None
    modules, triples = dict(gm.named_modules()), []
    for node in list(gm.graph.nodes):
        conv = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(conv, nn.Conv2d):
            continue
        users, bn = list(node.users), None
        if len(users) == 1 and users[0].op == "call_module":
            cand = modules[users[0].target]
            if isinstance(cand, nn.BatchNorm2d) and cand.track_running_stats:
                bn = cand
                users[0].replace_all_uses_with(node)
                gm.graph.erase_node(users[0])
        folded = nn.Conv2d(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            bias=True,
            padding_mode=conv.padding_mode,
        )
        folded = folded.to(conv.weight.device, conv.weight.dtype, memory_format=torch.channels_last)
        node.target = f"folded_{len(triples)}"
        gm.add_submodule(node.target, folded.requires_grad_(False))
        triples.append((folded, conv, bn))
    gm.recompile()

    @torch.no_grad()
    def refresh() -> None:
        for folded, conv, bn in triples:
            scale = torch.ones(conv.out_channels, device=conv.weight.device, dtype=conv.weight.dtype)
            shift = torch.zeros_like(scale) if conv.bias is None else conv.bias.detach()
            if bn is not None:
                scale = torch.rsqrt(bn.running_var + bn.eps) * (1 if bn.weight is None else bn.weight)
                shift = (shift - bn.running_mean) * scale + (0 if bn.bias is None else bn.bias)
            folded.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            folded.bias.copy_(shift)

    return gm, refresh
