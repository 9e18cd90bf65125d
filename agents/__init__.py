"""Agents of the hydrogen chain economy, one module per family."""

from .agency import TechTransferAgency
from .bank import Bank
from .fund import RiskCompensationFund
from .government import Government
from .insurer import Insurer
from .leader import ChainLeader
from .sme import SME

__all__ = ["SME", "Bank", "ChainLeader", "Government", "Insurer", "RiskCompensationFund", "TechTransferAgency"]
