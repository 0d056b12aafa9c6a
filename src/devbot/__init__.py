"""devbot: turns Markdown plans into reviewed pull requests."""

__version__ = "0.1.0"
