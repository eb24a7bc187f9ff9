"""GRA: gender and age recognition from voice."""

__version__ = "0.1.0"
