from infra.network.network import Network
from infra.network.stack import NetworkStack

__all__ = ["Network", "NetworkStack"]
