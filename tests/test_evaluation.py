"""The one evaluation loop: sums that equal the plain mean loss and accuracy, in eval mode."""

import pytest
import torch
from torch import nn

from resnet_edu.data import synthetic_cifar, tensors
from resnet_edu.nets.models import SimpleCNN
from resnet_edu.training.evaluation import evaluate, loss_sums


def test_loss_sums_equals_the_plain_mean_loss_and_accuracy():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    x, y = torch.randn(11, 5), torch.randint(0, 3, (11,))
    loss_sum, correct, count = loss_sums(model, tensors.batches(x, y, 4)).tolist()
    logits = model(x).detach()
    assert count == 11
    assert loss_sum / count == pytest.approx(float(nn.functional.cross_entropy(logits, y)), rel=1e-6)
    assert correct == int((logits.argmax(1) == y).sum())
    with pytest.raises(ValueError, match="empty"):
        loss_sums(model, [])


def test_evaluate_uses_running_statistics_and_leaves_the_model_training():
    torch.manual_seed(0)
    model = SimpleCNN(width=4).train()
    data = synthetic_cifar(2, seed=0)
    loss, acc = evaluate(model, data)
    x, y = tensors.as_tensors(data)
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(model.eval()(x), y))
    model.train()
    assert loss == pytest.approx(expected, rel=1e-5) and 0 <= acc <= 1 and model.training
