"""The shop deployed on EKS as Kubernetes objects. ``Shop`` is the component."""

from components.shop.args import (
    AppSecretArns,
    Buckets,
    CacheEndpoint,
    ClusterTarget,
    DatabaseEndpoint,
    Origin,
    ShopArgs,
)
from components.shop.component import Shop
from components.shop.traffic import MetricsScraper, Peers

__all__ = [
    "AppSecretArns",
    "Buckets",
    "CacheEndpoint",
    "ClusterTarget",
    "DatabaseEndpoint",
    "MetricsScraper",
    "Origin",
    "Peers",
    "Shop",
    "ShopArgs",
]
