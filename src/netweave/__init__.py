"""netweave: an open, zero-touch network and service platform for beyond-5G networks."""

__version__ = "0.1.0"
