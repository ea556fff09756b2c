"""The ``embkit`` command and what only it needs.

``app`` (parser; compare, train, predict, encode), ``common`` (options, reading DATA,
``CLIError``), ``label``, ``simulate``, ``compare``, ``significance`` (bootstrap of a
lead), ``registry`` (named pipelines),
``saved`` (train's output, read without pickle), ``auto``, ``plotting`` (matplotlib).
May import every other part of embkit; nothing else imports it.
"""

from __future__ import annotations

from embkit.cli.app import main

__all__ = ["main"]
