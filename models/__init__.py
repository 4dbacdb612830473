"""Blendcast models layer."""
