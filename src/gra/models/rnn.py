"""A recurrent network over log-mel frames: a strided 1-D convolution halves the frame rate,
a bidirectional GRU reads the frames, attention pooling weighs them (speech over pauses) into
one vector per clip. Any patch length works (training crops, full patches)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gra.models.frame_input import FrameClassifier


class _Net(nn.Module):
    def __init__(
        self, n_mels: int, hidden: int, layers: int, n_classes: int, dropout: float
    ) -> None:
        super().__init__()
        self.front = nn.Sequential(
            nn.Conv1d(n_mels, hidden, kernel_size=3, stride=2, padding=1),
            nn.ReLU(inplace=True),
        )
        self.gru = nn.GRU(
            hidden,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.attention = nn.Linear(2 * hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (b, n_mels, frames)
        h, _ = self.gru(self.front(x).transpose(1, 2))  # (b, frames/2, 2 * hidden)
        weights = torch.softmax(self.attention(h), dim=1)  # (b, frames/2, 1)
        return self.head(self.dropout((weights * h).sum(dim=1)))


@dataclass(eq=False, repr=False)
class RnnClassifier(FrameClassifier):
    hidden: int = 64
    layers: int = 1

    def _module(self, n_features: int, n_classes: int) -> nn.Module:
        return _Net(n_features, self.hidden, self.layers, n_classes, self.dropout)
