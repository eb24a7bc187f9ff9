"""A recurrent network over log-mel frames: a strided 1-D convolution halves the frame rate,
a bidirectional GRU reads the frames, attention pooling weighs them (speech over pauses) into
one vector per clip. Any patch length works (training crops, full patches)."""

from __future__ import annotations

from collections.abc import Callable

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


class RnnClassifier(FrameClassifier):
    def __init__(
        self,
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.3,
        crop_frames: int = 150,
        epochs: int = 12,
        batch_size: int = 32,
        lr: float = 0.002,
        weight_decay: float = 1e-4,
        validation_fraction: float = 0.15,
        device: str = "cpu",
        threads: int | None = None,
        random_state: int = 0,
        on_epoch: Callable[[dict], None] | None = None,
    ) -> None:
        self.hidden = hidden
        self.layers = layers
        self.dropout = dropout
        self.crop_frames = crop_frames
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
        return _Net(n_features, self.hidden, self.layers, n_classes, self.dropout)
