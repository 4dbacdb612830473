"""Blendcast training layer."""
