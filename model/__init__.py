"""h2chain: hydrogen industrial-chain finance in Shanxi, an agent-based model on Mesa."""

from .ledger import AccountingError
from .model import HydrogenChainModel
from .params import ModelParams, ParameterError

__all__ = ["AccountingError", "HydrogenChainModel", "ModelParams", "ParameterError"]
