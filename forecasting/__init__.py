"""Blendcast forecasting layer."""
