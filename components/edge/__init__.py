"""The edge of the platform: Route 53, ACM, CloudFront and WAF in front of the shop."""

from components.edge.edge import Edge, EdgeArgs

__all__ = ["Edge", "EdgeArgs"]
