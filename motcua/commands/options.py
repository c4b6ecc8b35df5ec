"""Option types shared by commands, so that one value is spelled the same everywhere."""

from __future__ import annotations

import argparse

from procedures.models import Channel

CHANNEL_CHOICES = ", ".join(c.value for c in Channel)


def channel(text: str) -> Channel:
    """`--channel`: a channel as procedure files spell it (`in_person`); `in-person`, which
    `motcua submit` once asked for, is accepted too."""
    try:
        return Channel(text.strip().lower().replace("-", "_"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown channel {text!r} (choose from {CHANNEL_CHOICES})"
        ) from None
