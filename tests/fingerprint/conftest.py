"""Fixtures of fp_media (kept in a uniquely named module so tests can import its helpers)."""

from fp_media import protected_clip, rebroadcast, unrelated_clip  # noqa: F401
