"""Synthetic multi-channel catalogue with ground truth, for tests, demos and benchmarks.

``generate_catalogue(n_skus, n_channels, n_days, seed)`` simulates every canonical table (sales, skus,
suppliers, receipts, events, promotions, inventory) together with a :class:`GroundTruth` of what
produced them: Pareto-like revenue, channel behaviours (smooth own shop with promotions, volatile
marketplace, lumpy wholesale), weekly and yearly seasonality, trends, November-December gift-set
spikes, an intermittent long tail, late launches, volatility shifts, censored stockout days, and
suppliers whose real lead times differ from their promises. ``write_catalogue`` writes it to a data
directory atomically and ``read_truth`` reads the truth back.
"""

from features.synthetic.generator import generate_catalogue
from features.synthetic.io import check_output_dir, read_truth, write_catalogue
from features.synthetic.types import Catalogue, GroundTruth

__all__ = [
    "Catalogue", "GroundTruth", "check_output_dir", "generate_catalogue", "read_truth", "write_catalogue",
]
