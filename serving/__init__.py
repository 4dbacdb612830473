"""Blendcast serving layer."""
