"""A small PyTorch MLP on the summary vectors (speaker embedding + librosa statistics).

Two hidden layers with dropout; trained by the shared loop (class- and speaker-weighted
cross-entropy, AdamW, the best epoch on held-back speakers kept). Its input is standardised by
the StandardScaler before it in the pipeline (gra.models.families). Trains in seconds on CPU.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from gra.models.torch_estimator import TorchClassifier


class MlpClassifier(TorchClassifier):
    def __init__(
        self,
        hidden: tuple[int, ...] = (256, 128),
        dropout: float = 0.5,
        input_dropout: float = 0.2,
        epochs: int = 40,
        batch_size: int = 64,
        lr: float = 0.001,
        weight_decay: float = 0.01,
        validation_fraction: float = 0.15,
        device: str = "cpu",
        threads: int | None = None,
        random_state: int = 0,
        on_epoch: Callable[[dict], None] | None = None,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.device = device
        self.threads = threads
        self.random_state = random_state
        self.on_epoch = on_epoch

    def _module(self, n_features: int, n_classes: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Dropout(self.input_dropout)]
        width = n_features
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
