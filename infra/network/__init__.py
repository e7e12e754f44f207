from infra.network.network import Network

__all__ = ["Network"]
