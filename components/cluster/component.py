"""The Kubernetes platform: an EKS cluster (pulumi-eks) with managed node groups, add-ons, workload identity and
the controllers the shop relies on (load balancing, autoscaling)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_eks as eks
import pulumi_kubernetes as k8s

from components.base import PlatformComponent, StackContext
from components.cluster import access, addons, controllers, identity, nodes
from components.cluster.control_plane import aws_policy, build_control_plane
from components.cluster.identity import ServiceAccount, ShopAccess
from stacks.settings import ClusterSettings

COMPONENT = "cluster"
SHOP_NAMESPACE = "shop"
SHOP_SERVICE_ACCOUNT = "shop"
INGRESS_CLASS = "alb"
_CHART_REPOSITORIES = {
    controllers.LOAD_BALANCER_CONTROLLER: "https://aws.github.io/eks-charts",
    controllers.CLUSTER_AUTOSCALER: "https://kubernetes.github.io/autoscaler",
    controllers.ARGO_ROLLOUTS: "https://argoproj.github.io/argo-helm",
}


@dataclass(frozen=True)
class ClusterArgs:
    settings: ClusterSettings
    context: StackContext
    """Its role scope is every role's the cluster creates (its own, the nodes', the pods'); with ``protect`` the
    control plane and its audit log are protected and have deletion protection."""
    name: str
    """Physical cluster name; the network tags its subnets with it for load balancer discovery."""
    vpc_id: pulumi.Input[str]
    vpc_cidr: str
    """The control plane's network interfaces call admission webhooks from addresses in it."""
    service_cidr: str
    """The Service range (ClusterIPs), outside the VPC; pinned so that NetworkPolicies can exclude it."""
    private_subnet_ids: Sequence[pulumi.Input[str]]
    """Control-plane network interfaces and every node group live here, one subnet per zone."""
    egress_ready: Sequence[pulumi.Resource]
    """The private subnets' routes out and the VPC endpoints: how nodes and pods reach AWS and the internet."""
    workload_security_group_id: pulumi.Input[str]
    """Attached to every node and so to every pod; the data stores admit only this group."""
    secrets_key_arn: pulumi.Input[str]
    """Envelope encryption of Kubernetes Secrets."""
    logs_key_arn: pulumi.Input[str]
    volumes_key_arn: pulumi.Input[str]
    """Node volumes and persistent volumes."""
    shop_access: ShopAccess
    """The data layer's secrets, keys and bucket prefix the shop's pods may use."""


class Cluster(PlatformComponent):
    name: pulumi.Output[str]
    """The cluster name, resolved once the control plane exists: resources that take it wait for the cluster."""
    kubernetes_version: str
    kubernetes_provider: k8s.Provider
    """Built from the cluster's kubeconfig; pass it as ``provider=`` to every Kubernetes resource."""
    oidc_provider_arn: pulumi.Output[str]
    oidc_issuer: pulumi.Output[str]
    cluster_security_group_id: pulumi.Output[str]
    """The security group EKS created for the control plane; every node carries it too."""
    deployer_security_group_id: pulumi.Output[str]
    """Attach it to a deploy runner or VPN endpoint in the VPC to reach the Kubernetes API (private endpoint)."""
    shop_namespace: pulumi.Output[str]
    """Pod Security ``restricted``; resources that take it wait for the namespace to exist."""
    shop_service_account_name: pulumi.Output[str]
    """The shop's pods run as this ServiceAccount (created with the shop); Pod Identity binds it to the shop role.
    It resolves once the association exists, so a ServiceAccount named by it is created after."""
    shop_role_arn: pulumi.Output[str]
    shop_node_selector: dict[str, str]
    ingress_class_name: str
    alb_controller_ready: pulumi.Resource
    """Depend on it from Ingresses so that the controller and its webhooks serve them."""
    rollouts_controller_ready: pulumi.Resource
    """Argo Rollouts and its CRDs: depend on it from Rollouts and AnalysisTemplates."""
    compute_ready: list[pulumi.Resource]
    """The node groups and CoreDNS: depend on them from add-ons and controllers with pods."""

    pulumi_type = "shop:cluster:Cluster"
    component = COMPONENT

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(name, args.context, opts)
        self._name = name
        self._args = args
        settings = args.settings
        self.kubernetes_version = settings.kubernetes_version
        self.shop_node_selector = nodes.APP_NODE_SELECTOR
        self.ingress_class_name = INGRESS_CLASS

        api_groups = access.api_security_groups(
            name,
            vpc_id=args.vpc_id,
            operator_cidrs=tuple(str(cidr) for cidr in settings.private_access_cidrs),
            tags=self.tags,
            parent=self,
        )
        self.deployer_security_group_id = api_groups.deployer.id
        control_plane = build_control_plane(name, self, args, api_groups)
        # The URN resolves when pulumi-eks has finished building the cluster, and stays known during previews.
        self.name = control_plane.urn.apply(lambda _: args.name)
        self.oidc_provider_arn = control_plane.oidc_provider_arn
        self.oidc_issuer = control_plane.oidc_issuer
        # Without default security groups pulumi-eks reports EKS's own cluster security group as the node group.
        self.cluster_security_group_id = control_plane.node_security_group_id

        workload_rules = nodes.allow_control_plane_and_peers(
            f"{name}-workloads",
            workload_security_group_id=args.workload_security_group_id,
            cluster_security_group_id=self.cluster_security_group_id,
            tags=self.tags("eks-workloads"),
            parent=self,
        )
        cni = identity.irsa_role(
            f"{name}-vpc-cni",
            scope=self.context.role_scope,
            oidc_provider_arn=self.oidc_provider_arn,
            oidc_issuer=self.oidc_issuer,
            service_account=ServiceAccount("kube-system", "aws-node"),
            managed_policy_arns=[aws_policy(self.context.account, "AmazonEKS_CNI_Policy")],
            description="VPC CNI: manage the nodes' network interfaces and pod IP addresses",
            tags=self.tags("eks-vpc-cni"),
            parent=self,
        )
        # Networking and credentials for pods must be in place before nodes register.
        node_prerequisites = addons.managed_addons(
            name,
            [
                addons.ManagedAddon(
                    "vpc-cni",
                    settings.vpc_cni_version,
                    # Enforces Kubernetes NetworkPolicies (the eBPF network policy agent).
                    configuration={"enableNetworkPolicy": "true"},
                    service_account_role_arn=cni.role.arn,
                    needs=cni.grants,
                ),
                addons.ManagedAddon("kube-proxy", settings.kube_proxy_version),
                addons.ManagedAddon("eks-pod-identity-agent", settings.pod_identity_agent_version),
            ],
            cluster_name=self.name,
            tags=self.tags("eks-addon"),
            parent=self,
        )
        # Nodes talk to each other and the control plane to kubelets and webhooks through the workload rules.
        node_groups = self._node_groups(control_plane, [*node_prerequisites, *workload_rules])

        ebs_csi = identity.pod_identity_role(
            f"{name}-ebs-csi",
            account=self.context.account,
            scope=self.context.role_scope,
            cluster_name=self.name,
            service_account=ServiceAccount("kube-system", "ebs-csi-controller-sa"),
            statements=identity.volume_key_statements(args.volumes_key_arn),
            managed_policy_arns=[aws_policy(self.context.account, "service-role/AmazonEBSCSIDriverPolicy")],
            description="EBS CSI driver: create, attach and encrypt persistent volumes",
            tags=self.tags("eks-ebs-csi"),
            parent=self,
        )
        # Deployments need nodes to become ready; EKS reports the add-on degraded until they are. Each waits for
        # nothing else of the others' (the EBS CSI driver alone for its identity).
        coredns, _, _ = addons.managed_addons(
            name,
            [
                addons.ManagedAddon("coredns", settings.coredns_version),
                addons.ManagedAddon("metrics-server", settings.metrics_server_version),
                addons.ManagedAddon("aws-ebs-csi-driver", settings.ebs_csi_driver_version, needs=[ebs_csi.association]),
            ],
            cluster_name=self.name,
            tags=self.tags("eks-addon"),
            parent=self,
            depends_on=node_groups,
        )

        self.kubernetes_provider = k8s.Provider(
            f"{name}-kubernetes",
            # No credentials in it (it runs `aws eks get-token`), but it is kept out of logs and outputs anyway.
            kubeconfig=pulumi.Output.secret(control_plane.kubeconfig_json),
            opts=self.child(),
        )
        shop_namespace = self._namespace(
            SHOP_NAMESPACE,
            # The load balancer controller holds rollouts until new pods pass the target group's health checks.
            {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"},
        )
        self.shop_namespace = shop_namespace.metadata.name
        shop = identity.pod_identity_role(
            f"{name}-shop",
            account=self.context.account,
            scope=self.context.role_scope,
            cluster_name=self.name,
            service_account=ServiceAccount(SHOP_NAMESPACE, SHOP_SERVICE_ACCOUNT),
            statements=identity.shop_statements(self.context.account, args.shop_access),
            description="The shop: its own secrets, its media prefix in the assets bucket, the keys behind them",
            tags=self.tags("eks-shop"),
            parent=self,
        )
        self.shop_service_account_name = shop.association.service_account
        self.shop_role_arn = shop.role.arn
        controllers.encrypted_storage_class(
            f"{name}-gp3-encrypted",
            volumes_key_arn=args.volumes_key_arn,
            provider=self.kubernetes_provider,
            parent=self,
        )
        # Controllers need nodes to run on and DNS to find the AWS APIs; not volumes or metrics.
        compute_ready = [*node_groups, coredns]
        self.compute_ready = compute_ready
        alb, autoscaler = controllers.LOAD_BALANCER_CONTROLLER, controllers.CLUSTER_AUTOSCALER
        self.alb_controller_ready = self._controller(
            alb,
            settings.load_balancer_controller_chart_version,
            controllers.load_balancer_controller_values(
                cluster_name=args.name,
                region=self.context.account.region,
                vpc_id=args.vpc_id,
                service_account=alb,
                ingress_class=INGRESS_CLASS,
            ),
            identity.load_balancer_controller_statements(self.context.account),
            compute_ready,
            webhook_sources=[args.vpc_cidr],
        )
        self._controller(
            autoscaler,
            settings.cluster_autoscaler_chart_version,
            controllers.cluster_autoscaler_values(
                cluster_name=args.name,
                region=self.context.account.region,
                image_tag=settings.cluster_autoscaler_version,
                service_account=autoscaler,
            ),
            identity.cluster_autoscaler_statements(self.context.account, args.name),
            compute_ready,
        )
        rollouts = controllers.ARGO_ROLLOUTS
        # Installed beside the load balancer controller, not after it: only a Rollout makes it write the Ingress's
        # forward action (which that controller's webhooks admit), and the shop's Rollout waits for both.
        self.rollouts_controller_ready = self._controller(
            rollouts,
            settings.argo_rollouts_chart_version,
            controllers.argo_rollouts_values(region=self.context.account.region, service_account=rollouts),
            identity.argo_rollouts_statements(),
            compute_ready,
        )

        self.register_outputs(
            {
                "name": self.name,
                "kubernetes_version": self.kubernetes_version,
                "oidc_provider_arn": self.oidc_provider_arn,
                "cluster_security_group_id": self.cluster_security_group_id,
                "deployer_security_group_id": self.deployer_security_group_id,
                "shop_namespace": self.shop_namespace,
                "shop_service_account_name": self.shop_service_account_name,
                "shop_role_arn": self.shop_role_arn,
            }
        )

    # ------------------------------------------------------------------------------------------ nodes

    def _node_groups(
        self, control_plane: eks.Cluster, prerequisites: Sequence[pulumi.Resource]
    ) -> list[eks.ManagedNodeGroup]:
        args = self._args
        settings = args.settings
        role = nodes.node_role(
            f"{self._name}-node",
            account=self.context.account,
            scope=self.context.role_scope,
            tags=self.tags("eks-node"),
            parent=self,
        )
        # Nodes join, pull images and call AWS with the role's policies and through the routes out; on destroy
        # both stay until the nodes (and the controllers on them) are gone.
        prerequisites = [*prerequisites, *role.grants, *args.egress_ready]
        template = nodes.launch_template(
            f"{self._name}-node",
            node_os=settings.node_os,
            disk_gib=settings.node_disk_gib,
            security_group_ids=[self.cluster_security_group_id, args.workload_security_group_id],
            tags=self.tags("eks-node"),
            parent=self,
        )
        subnets = list(args.private_subnet_ids)
        system = nodes.NodePool(
            "system",
            subnet_ids=subnets,
            instance_types=settings.system_instance_types,
            capacity_type="ON_DEMAND",
            min_size=settings.system_min_size,
            desired_size=settings.system_desired_size,
            max_size=settings.system_max_size,
            labels=nodes.SYSTEM_NODE_SELECTOR,
            taints=[nodes.SYSTEM_TAINT],
        )
        # One application group per zone: the shop spreads its pods over zones with DoNotSchedule, and the Cluster
        # Autoscaler can only add a node in a given zone when a group is confined to it (its balancing option then
        # keeps the zones even). The settings' sizes are totals, split evenly over the zones.
        per_zone = (
            nodes.split_across_zones(size, len(subnets))
            for size in (settings.app_min_size, settings.app_desired_size, settings.app_max_size)
        )
        apps = [
            nodes.NodePool(
                f"apps-zone{zone}",
                subnet_ids=[subnet],
                instance_types=settings.app_instance_types,
                capacity_type=settings.app_capacity_type,
                min_size=low,
                desired_size=desired,
                max_size=high,
                labels=nodes.APP_NODE_SELECTOR,
            )
            for zone, (subnet, low, desired, high) in enumerate(zip(subnets, *per_zone, strict=True), start=1)
        ]
        return [
            nodes.managed_node_group(
                f"{self._name}-{pool.name}",
                pool,
                cluster=control_plane,
                kubernetes_version=settings.kubernetes_version,
                node_os=settings.node_os,
                node_role_arn=role.role.arn,
                template=template,
                name_prefix=self.naming.physical(f"eks-{pool.name}", max_length=36) + "-",
                tags=self.tags(f"eks-{pool.name}-nodes"),
                parent=self,
                depends_on=prerequisites,
            )
            for pool in [system, *apps]
        ]

    # ------------------------------------------------------------------------------------------ controllers

    def _namespace(self, namespace_name: str, labels: dict[str, str] | None = None) -> k8s.core.v1.Namespace:
        return controllers.namespace(
            f"{self._name}-{namespace_name}-namespace",
            namespace_name,
            labels=labels or {},
            provider=self.kubernetes_provider,
            parent=self,
        )

    def _controller(
        self,
        chart_name: str,
        version: str,
        values: dict,
        statements: identity.Statements,
        depends_on: list,
        webhook_sources: Sequence[str] = (),
    ) -> k8s.helm.v3.Release:
        """A controller in a namespace of its own, with a Pod Identity role for its service account and a network
        policy for its traffic."""
        namespace = self._namespace(chart_name)
        network_policy = controllers.controller_network_policy(
            f"{self._name}-{chart_name}",
            namespace,
            release=chart_name,
            webhook_sources=webhook_sources,
            provider=self.kubernetes_provider,
        )
        role = identity.pod_identity_role(
            f"{self._name}-{chart_name}",
            account=self.context.account,
            scope=self.context.role_scope,
            cluster_name=self.name,
            service_account=ServiceAccount(chart_name, chart_name),
            statements=statements,
            description=f"{chart_name} in cluster {self._args.name}",
            tags=self.tags(f"eks-{chart_name}"),
            parent=self,
        )
        return controllers.helm_release(
            f"{self._name}-{chart_name}",
            controllers.Chart(chart_name, _CHART_REPOSITORIES[chart_name], version),
            namespace=namespace.metadata.name,
            values=values,
            provider=self.kubernetes_provider,
            parent=self,
            # Its traffic and its AWS permissions (through the association) from its first start to its last
            # clean-up: on destroy it still deletes what it created (the shop's load balancer) with both.
            depends_on=[role.association, network_policy, *depends_on],
        )
