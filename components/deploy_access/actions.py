"""The IAM actions the delivery roles and the workload boundary are written from, as data: each set says which
service's documentation (or which of our components) it comes from, and tests/test_cicd_bootstrap.py checks the
sets against what both stacks' plans use.

Long by nature (the workload boundary lists every action the platform's roles use, one a line, so that a review
sees each one added or removed): the statements that use these sets are in ``statements.py``.
"""

#: The services whose resources the platform's stacks manage (IAM and S3 are granted more narrowly below).
#: tests/test_cicd_bootstrap.py checks this against the services the stacks' plans use.
PLATFORM_SERVICES = (
    "acm",
    "cloudfront",
    "cloudtrail",
    "cloudwatch",
    "codebuild",
    "dynamodb",
    "ec2",
    "eks",
    "elasticache",
    "kms",
    "lambda",
    "logs",
    "rds",
    "route53",
    "secretsmanager",
    "sns",
    "wafv2",
)
#: Looking up the load balancer and target group the AWS Load Balancer Controller builds for the shop (the shop's
#: alarms and dashboard watch them; components/observability/shop.py); no stack creates or changes them itself.
LOAD_BALANCER_READ_ACTIONS = (
    "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeLoadBalancers",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTargetGroups",
)
#: What `pulumi preview` (and `--refresh`) reads of those services: configuration, never data or secret values.
#: (The stack's own state, and the secrets in it, the preview reads from the state backend: statements.py.)
PREVIEW_READ_ACTIONS = (
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "acm:ListTagsForCertificate",
    "cloudfront:Get*",
    "cloudfront:List*",
    "cloudtrail:DescribeTrails",
    "cloudtrail:GetEventSelectors",
    "cloudtrail:GetTrailStatus",
    "cloudtrail:ListTags",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:GetDashboard",
    "cloudwatch:ListTagsForResource",
    "codebuild:BatchGetProjects",  # the deploy runner's project and its webhook
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ListTagsOfResource",
    "ec2:Describe*",
    *LOAD_BALANCER_READ_ACTIONS,
    "eks:Describe*",
    "eks:List*",
    "elasticache:Describe*",
    "elasticache:ListTagsForResource",
    "iam:GetInstanceProfile",
    "iam:GetOpenIDConnectProvider",
    "iam:GetPolicy",
    "iam:GetPolicyVersion",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListResourceTags",
    # The provider reads a function with GetFunction, whose answer includes its environment (the stack's function
    # has none) and a link to its code (the repository's functions/).
    "lambda:GetFunction",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetPolicy",
    "lambda:ListTags",
    "lambda:ListVersionsByFunction",
    "logs:DescribeLogGroups",
    "logs:DescribeMetricFilters",
    "logs:DescribeResourcePolicies",
    "logs:ListTagsForResource",
    "rds:Describe*",
    "rds:ListTagsForResource",
    "route53:Get*",
    "route53:List*",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    "secretsmanager:ListSecrets",
    "sns:GetSubscriptionAttributes",
    "sns:GetTopicAttributes",
    "sns:ListTagsForResource",
    "wafv2:Get*",
    "wafv2:List*",
)
#: The EC2 reads that return user data: an instance's attribute, a launch template version's data.
USER_DATA_READ_ACTIONS = ("ec2:DescribeInstanceAttribute", "ec2:DescribeLaunchTemplateVersions")
#: What a preview reads of a stack's buckets: their configuration, never their objects.
BUCKET_CONFIGURATION_READ_ACTIONS = (
    "s3:GetAccelerateConfiguration",
    "s3:GetBucket*",
    "s3:GetEncryptionConfiguration",
    "s3:GetLifecycleConfiguration",
    "s3:GetReplicationConfiguration",
)
#: Role writes IAM can condition on the permissions boundary the role has or gets (``iam:PermissionsBoundary``,
#: IAM's Service Authorization Reference): a deploy role makes them only with its stack's boundary.
BOUNDED_ROLE_WRITE_ACTIONS = (
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
)
#: The other role actions a deploy needs. None takes the boundary condition, so they stay on the stack's role path,
#: where every role carries the boundary.
STACK_ROLE_ACTIONS = (
    "iam:DeleteRole",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
    "iam:ListRolePolicies",
    "iam:ListRoleTags",
    "iam:PassRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
)
#: The cluster's IRSA provider, which pulumi-eks creates (``oidc.eks.<region>.<dns suffix>/id/<id>``).
CLUSTER_OIDC_PROVIDER_ACTIONS = (
    "iam:AddClientIDToOpenIDConnectProvider",
    "iam:CreateOpenIDConnectProvider",
    "iam:DeleteOpenIDConnectProvider",
    "iam:GetOpenIDConnectProvider",
    "iam:RemoveClientIDFromOpenIDConnectProvider",
    "iam:TagOpenIDConnectProvider",
    "iam:UntagOpenIDConnectProvider",
    "iam:UpdateOpenIDConnectProviderThumbprint",
)
#: The platform creates no managed policy (only inline policies and AWS-managed attachments): reads only.
POLICY_READ_ACTIONS = ("iam:GetPolicy", "iam:GetPolicyVersion", "iam:ListPolicyVersions")
#: What a workload role may do with the registry's images: pull and look, never push, delete or re-configure.
IMAGE_READ_ACTIONS = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:Describe*", "ecr:Get*", "ecr:List*")
#: Using a KMS key, as opposed to administering it.
KEY_USE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*")
#: Everything a role carrying a stack's workload boundary may ever do: exactly what the platform's roles use (the
#: inline policies of both stacks' plans and the AWS managed policies they attach), no more. A boundary only caps, so
#: anything missing here fails at run time: tests/test_cicd_bootstrap.py checks every inline policy action of both
#: plans against it. No sts, cloudformation, lambda, ssm, organizations or sso; in IAM only reads and service-linked
#: roles; in ECR only pulls. Keep it under IAM's 6,144 characters for a managed policy (also tested).
WORKLOAD_BOUNDARY_ACTIONS = (
    # Reads, and the configuration the roles look up (every inline policy and managed policy below reads these).
    "autoscaling:Describe*",
    "ec2:Describe*",
    "elasticloadbalancing:Describe*",
    "iam:Get*",
    "iam:List*",
    # AWS Load Balancer Controller (components/cluster/aws-load-balancer-controller-iam-policy-v2.14.json), and
    # AmazonEKSClusterPolicy's load balancers for Services (classic ELB) and security groups.
    "acm:DescribeCertificate",
    "acm:ListCertificates",
    "cognito-idp:DescribeUserPoolClient",
    "ec2:AuthorizeSecurityGroupIngress",
    "ec2:CreateSecurityGroup",
    "ec2:CreateTags",
    "ec2:DeleteSecurityGroup",
    "ec2:DeleteTags",
    "ec2:GetCoipPoolUsage",
    "ec2:GetSecurityGroupsForVpc",
    "ec2:RevokeSecurityGroupIngress",
    "elasticloadbalancing:AddListenerCertificates",
    "elasticloadbalancing:AddTags",
    "elasticloadbalancing:ApplySecurityGroupsToLoadBalancer",
    "elasticloadbalancing:AttachLoadBalancerToSubnets",
    "elasticloadbalancing:ConfigureHealthCheck",
    "elasticloadbalancing:CreateListener",
    "elasticloadbalancing:CreateLoadBalancer",
    "elasticloadbalancing:CreateLoadBalancerListeners",
    "elasticloadbalancing:CreateLoadBalancerPolicy",
    "elasticloadbalancing:CreateRule",
    "elasticloadbalancing:CreateTargetGroup",
    "elasticloadbalancing:DeleteListener",
    "elasticloadbalancing:DeleteLoadBalancer",
    "elasticloadbalancing:DeleteLoadBalancerListeners",
    "elasticloadbalancing:DeleteRule",
    "elasticloadbalancing:DeleteTargetGroup",
    "elasticloadbalancing:DeregisterInstancesFromLoadBalancer",
    "elasticloadbalancing:DeregisterTargets",
    "elasticloadbalancing:DetachLoadBalancerFromSubnets",
    "elasticloadbalancing:ModifyCapacityReservation",
    "elasticloadbalancing:ModifyIpPools",
    "elasticloadbalancing:ModifyListener",
    "elasticloadbalancing:ModifyListenerAttributes",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "elasticloadbalancing:ModifyRule",
    "elasticloadbalancing:ModifyTargetGroup",
    "elasticloadbalancing:ModifyTargetGroupAttributes",
    "elasticloadbalancing:RegisterInstancesWithLoadBalancer",
    "elasticloadbalancing:RegisterTargets",
    "elasticloadbalancing:RemoveListenerCertificates",
    "elasticloadbalancing:RemoveTags",
    "elasticloadbalancing:SetIpAddressType",
    "elasticloadbalancing:SetLoadBalancerPoliciesForBackendServer",
    "elasticloadbalancing:SetLoadBalancerPoliciesOfListener",
    "elasticloadbalancing:SetRulePriorities",
    "elasticloadbalancing:SetSecurityGroups",
    "elasticloadbalancing:SetSubnets",
    "elasticloadbalancing:SetWebAcl",
    "iam:CreateServiceLinkedRole",  # and AmazonEKSClusterPolicy
    "shield:CreateProtection",
    "shield:DeleteProtection",
    "shield:DescribeProtection",
    "shield:GetSubscriptionState",
    "waf-regional:AssociateWebACL",
    "waf-regional:DisassociateWebACL",
    "waf-regional:GetWebACL",
    "waf-regional:GetWebACLForResource",
    "wafv2:AssociateWebACL",
    "wafv2:DisassociateWebACL",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    # AmazonEKSClusterPolicy (the control plane: the legacy cloud provider's volumes, routes and node groups).
    "autoscaling:UpdateAutoScalingGroup",
    "ec2:CreateRoute",
    "ec2:DeleteRoute",
    "ec2:ModifyInstanceAttribute",
    "kms:DescribeKey",
    # AmazonEKSWorkerNodePolicy and AmazonEC2ContainerRegistryPullOnly (the nodes): join the cluster, hand pods their
    # EKS Pod Identity credentials, pull images (reads only: no push, no registry-level configuration).
    "eks:DescribeCluster",
    "eks-auth:AssumeRoleForPodIdentity",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetAuthorizationToken",
    "ecr:GetDownloadUrlForLayer",
    # AmazonEKS_CNI_Policy (VPC CNI): the nodes' network interfaces and pod addresses.
    "ec2:AssignPrivateIpAddresses",
    "ec2:AttachNetworkInterface",
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:DetachNetworkInterface",
    "ec2:ModifyNetworkInterfaceAttribute",
    "ec2:UnassignPrivateIpAddresses",
    # service-role/AmazonEBSCSIDriverPolicy and the EBS CSI driver's inline key grants (and AmazonEKSClusterPolicy's
    # volumes): volumes and their snapshots, encrypted with the stack's key.
    "ec2:AttachVolume",
    "ec2:CreateSnapshot",
    "ec2:CreateVolume",
    "ec2:DeleteSnapshot",
    "ec2:DeleteVolume",
    "ec2:DetachVolume",
    "ec2:EnableFastSnapshotRestores",
    "ec2:ModifyVolume",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ListGrants",
    "kms:ReEncrypt*",
    "kms:RevokeGrant",
    # Cluster autoscaler (components/cluster): scale the node groups it finds.
    "autoscaling:SetDesiredCapacity",
    "autoscaling:TerminateInstanceInAutoScalingGroup",
    "ec2:GetInstanceTypesFromInstanceRequirements",
    "eks:DescribeNodegroup",
    # Argo Rollouts (components/cluster): its analyses' CloudWatch queries (its ELB reads are Describe* above).
    "cloudwatch:GetMetricData",
    # The shop (components/cluster): its media bucket, its carts table, its secrets, its data key.
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:PutObject",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    # The secrets' rotation function (components/rotation.py): new versions, their staging labels, generated values.
    "secretsmanager:GetRandomPassword",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecretVersionStage",
    # The AUTH token's rotation function (components/rotation.py): the replication group's token.
    "elasticache:DescribeReplicationGroups",
    "elasticache:ModifyReplicationGroup",
    # The origin header's rotation function (components/rotation.py): the origin web ACL's rule, CloudFront's header.
    "wafv2:UpdateWebACL",
    "cloudfront:GetDistribution",
    "cloudfront:GetDistributionConfig",
    "cloudfront:UpdateDistribution",
    # The CloudWatch agent, RDS enhanced monitoring, VPC flow logs and CloudTrail's log delivery.
    "cloudwatch:PutMetricData",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:DescribeLogGroups",
    "logs:DescribeLogStreams",
    "logs:GetLogEvents",
    "logs:PutLogEvents",
    "logs:PutRetentionPolicy",
    # The deploy runner's builds (components/deploy_runner.py): their network interfaces in the private subnets,
    # and the GitHub connection's token that registers each build as the job's runner.
    "ec2:CreateNetworkInterfacePermission",
    "codeconnections:GetConnection",
    "codeconnections:GetConnectionToken",
    "codestar-connections:GetConnection",
    "codestar-connections:GetConnectionToken",
    # The CloudWatch agent's traces to X-Ray (components/observability/telemetry.py XRAY_WRITE_ACTIONS).
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
)
#: Pushing an image (AWS's documented set for one repository), and finding one already pushed (ci/image.py).
IMAGE_PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:CompleteLayerUpload",
    "ecr:DescribeImages",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)
