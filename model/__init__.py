"""h2chain: hydrogen industrial-chain finance in Shanxi, an agent-based model on Mesa."""

from .ledger import AccountingError
from .params import ModelParams, ParameterError

__all__ = ["AccountingError", "HydrogenChainModel", "ModelParams", "ParameterError"]


def __getattr__(name: str):
    # Lazy, so that `import agents` first works: agents use model.finance, and the model
    # module imports the agents.
    if name == "HydrogenChainModel":
        from .model import HydrogenChainModel

        return HydrogenChainModel
    raise AttributeError(f"module 'model' has no attribute {name!r}")
