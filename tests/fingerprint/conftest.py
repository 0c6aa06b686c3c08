"""Fixtures of fp_media (kept in a uniquely named module so tests can import its helpers)."""

from fp_media import placed, protected_clip, protected_with_sound, rebroadcast, unrelated_clip  # noqa: F401
