"""A small PyTorch MLP on the summary vectors (speaker embedding + librosa statistics).

Two hidden layers with dropout; trained by the shared loop (class- and speaker-weighted
cross-entropy, AdamW, the best epoch on held-back speakers kept). Its input is standardised by
the StandardScaler before it in the pipeline (gra.models.families). Trains in seconds on CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from gra.models.torch_estimator import TorchClassifier


@dataclass(eq=False, repr=False)
class MlpClassifier(TorchClassifier):
    hidden: tuple[int, ...] = (256, 128)
    dropout: float = 0.5
    input_dropout: float = 0.2

    def _module(self, n_features: int, n_classes: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Dropout(self.input_dropout)]
        width = n_features
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(self.dropout)]
            width = size
        layers.append(nn.Linear(width, n_classes))
        return nn.Sequential(*layers)
