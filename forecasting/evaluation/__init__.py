"""Evaluation: rolling-origin backtests, forecast metrics, drift and realized accuracy."""
