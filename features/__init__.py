"""Blendcast features layer: data contracts, validation, readers, importers, feature builders and the
synthetic catalogue. The lowest layer: it imports nothing from the layers above it."""
