"""sybilgraph: attribute swarms of fake accounts to the operators behind them."""

__version__ = "0.1.0"
__all__ = ["__version__"]
