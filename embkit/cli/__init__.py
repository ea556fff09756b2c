"""The ``embkit`` command and what only it needs.

``app`` (argument parsing and the sub-commands), ``common`` (what the sub-commands share:
options, reading DATA, ``CLIError``), ``label`` and ``simulate`` (active learning in the
terminal, learning curves), ``compare`` (fit and score several
pipelines side by side), ``registry`` (named pipelines the commands build), ``saved``
(the pipelines ``train`` writes and ``predict`` reads, without pickle), ``plotting``
(matplotlib pictures of embeddings and confusion matrices).
May import every other part of embkit; nothing else imports it.
"""

from __future__ import annotations

from embkit.cli.app import main

__all__ = ["main"]
