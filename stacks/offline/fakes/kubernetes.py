"""Fakes for Kubernetes objects whose status the program reads, in the API's camelCase shapes."""

from __future__ import annotations

from stacks.offline.fakes import FakeResource, outputs

LOAD_BALANCER_NAME = "alb.ingress.kubernetes.io/load-balancer-name"


@outputs("kubernetes:networking.k8s.io/v1:Ingress")
def _ingress(resource: FakeResource) -> dict:
    """The status the AWS Load Balancer Controller writes once it has created the Ingress's ALB: its DNS name,
    ``<load balancer name>-<number>.<region>.elb.amazonaws.com`` (``k8s-<namespace>-<ingress>-<hash>`` unnamed)."""
    metadata = resource.inputs.get("metadata") or {}
    name = (metadata.get("annotations") or {}).get(LOAD_BALANCER_NAME)
    if not name:
        name = f"k8s-{metadata.get('namespace', 'default')}-{metadata.get('name', resource.name)}-{resource.hex_id(10)}"
    number = int(resource.digest[:8], 16) % 10**10
    hostname = f"{name}-{number}.{resource.region}.elb.amazonaws.com"
    return {"status": {"loadBalancer": {"ingress": [{"hostname": hostname}]}}}
