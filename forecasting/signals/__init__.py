"""Signals that warn planners ahead of time: seasonal spikes, volatility shifts, segment changes,
supplier slippage, and the alerts they raise."""
