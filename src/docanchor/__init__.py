"""docanchor: blockchain-anchored validation of public procurement documents."""

__version__ = "0.1.0"
