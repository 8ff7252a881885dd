"""Fakes for the AWS basics: account, region and zones; KMS, IAM, CloudWatch Logs and the VPC."""

from __future__ import annotations

from stacks.offline.fakes import FakeCloud, FakeResource, MissingFake, invoke, outputs


@invoke("aws:index/getCallerIdentity:getCallerIdentity")
def _caller_identity(cloud: FakeCloud, args: dict) -> dict:
    return {
        "accountId": cloud.account_id,
        "arn": f"arn:aws:sts::{cloud.account_id}:assumed-role/offline-preview/offline",
        "userId": "AROAOFFLINEPREVIEW:offline",
        "id": cloud.account_id,
    }


@invoke("aws:index/getPartition:getPartition")
def _partition(cloud: FakeCloud, args: dict) -> dict:
    return {"partition": "aws", "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws", "id": "aws"}


@invoke("aws:index/getRegion:getRegion")
def _region(cloud: FakeCloud, args: dict) -> dict:
    region = args.get("region") or cloud.region
    return {
        "region": region,
        "name": region,
        "id": region,
        "endpoint": f"ec2.{region}.amazonaws.com",
        "description": f"Offline preview of {region}",
    }


@invoke("aws:index/getAvailabilityZones:getAvailabilityZones")
def _availability_zones(cloud: FakeCloud, args: dict) -> dict:
    region = args.get("region") or cloud.region
    area, direction, number = region.rsplit("-", 2)[0], *region.rsplit("-", 2)[1:]
    short = f"{area.replace('-', '')}{direction[0]}{number}"  # eu-west-1 -> euw1, us-gov-west-1 -> usgovw1
    letters = "abcd"
    return {
        "names": [f"{region}{letter}" for letter in letters],
        "zoneIds": [f"{short}-az{index + 1}" for index in range(len(letters))],
        "groupNames": [region] * len(letters),
        "id": region,
        "state": args.get("state"),
    }


@outputs("aws:kms/key:Key")
def _kms_key(resource: FakeResource) -> dict:
    key_id = resource.uuid()
    return {"id": key_id, "keyId": key_id, "arn": resource.arn("kms", f"key/{key_id}")}


@outputs("aws:kms/alias:Alias")
def _kms_alias(resource: FakeResource) -> dict:
    name = resource.physical_name()
    return {"id": name, "arn": resource.arn("kms", name), "targetKeyArn": resource.arn("kms", "key/target")}


@outputs("aws:iam/role:Role")
def _iam_role(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=64)
    return {
        "id": name,
        "name": name,
        "arn": resource.arn("iam", f"role{resource.inputs.get('path', '/')}{name}", regional=False),
        "uniqueId": f"AROA{resource.hex_id(17).upper()}",
    }


@outputs("aws:iam/rolePolicy:RolePolicy")
def _iam_role_policy(resource: FakeResource) -> dict:
    return {"id": f"{resource.inputs.get('role')}:{resource.physical_name()}"}


@outputs("aws:cloudwatch/logGroup:LogGroup")
def _log_group(resource: FakeResource) -> dict:
    name = resource.physical_name(max_length=512)
    return {"id": name, "name": name, "arn": resource.arn("logs", f"log-group:{name}")}


@outputs("aws:ec2/vpc:Vpc")
def _vpc(resource: FakeResource) -> dict:
    return {
        "defaultSecurityGroupId": f"sg-0{resource.hex_id(16)}",
        "defaultNetworkAclId": f"acl-0{resource.hex_id(16)}",
        "mainRouteTableId": f"rtb-0{resource.hex_id(16)}",
        "ownerId": resource.cloud.account_id,
    }


@outputs("aws:ec2/eip:Eip")
def _eip(resource: FakeResource) -> dict:
    octets = resource.digest[:4]
    public_ip = "203.0.113." + str(int(octets, 16) % 254 + 1)  # TEST-NET-3, never routable
    return {"allocationId": f"eipalloc-0{resource.hex_id(16)}", "publicIp": public_ip}


@outputs("aws:ec2/vpcEndpoint:VpcEndpoint")
def _vpc_endpoint(resource: FakeResource) -> dict:
    service = str(resource.inputs.get("serviceName", ""))
    dns = f"vpce-0{resource.hex_id(16)}.{service.rsplit('.', 1)[-1]}.{resource.cloud.region}.vpce.amazonaws.com"
    return {"dnsEntries": [{"dnsName": dns, "hostedZoneId": "Z7HUB22UULQXV"}], "state": "available"}


#: S3's regional addresses (what the gateway endpoint routes), by region: the prefix list's id and CIDRs.
S3_PREFIX_LISTS = {
    "eu-west-1": ("pl-6da54004", ["3.5.64.0/21", "3.5.72.0/23", "52.92.0.0/17", "52.218.0.0/17"]),
}
#: DynamoDB's regional addresses (its gateway endpoint's prefix list), by region: the DYNAMODB ranges of AWS's
#: ip-ranges.json for the region.
DYNAMODB_PREFIX_LISTS = {
    "eu-west-1": ("pl-6fa54006", ["52.94.5.0/24", "52.94.24.0/23", "52.119.240.0/21"]),
}


@invoke("aws:ec2/getPrefixList:getPrefixList")
def _prefix_list(cloud: FakeCloud, args: dict) -> dict:
    region = args.get("region") or cloud.region
    name = args.get("name")
    known = {f"com.amazonaws.{region}.s3": S3_PREFIX_LISTS, f"com.amazonaws.{region}.dynamodb": DYNAMODB_PREFIX_LISTS}
    if name not in known or region not in known[name]:
        raise MissingFake(
            f"the offline preview knows the S3 and DynamoDB prefix lists of {sorted(S3_PREFIX_LISTS)}, not {name!r}"
        )
    prefix_list_id, cidrs = known[name][region]
    return {"id": prefix_list_id, "prefixListId": prefix_list_id, "name": name, "cidrBlocks": cidrs, "region": region}


#: AWS-managed prefix lists by name (for eu-west-1): id and maximum entries, whose sum in a security group's rules
#: must stay within its 60-rule quota.
MANAGED_PREFIX_LISTS = {
    "com.amazonaws.global.cloudfront.origin-facing": ("pl-4fa04526", 55),
    "com.amazonaws.eu-west-1.route53-healthchecks": ("pl-0a1b2c3d4e5f60718", 25),
}


@invoke("aws:ec2/getManagedPrefixList:getManagedPrefixList")
def _managed_prefix_list(cloud: FakeCloud, args: dict) -> dict:
    name = args.get("name")
    if name not in MANAGED_PREFIX_LISTS:
        raise MissingFake(
            f"the offline preview knows the managed prefix lists {sorted(MANAGED_PREFIX_LISTS)}, not {name!r}"
        )
    prefix_list_id, max_entries = MANAGED_PREFIX_LISTS[name]
    region = args.get("region") or cloud.region
    return {
        "id": prefix_list_id,
        "name": name,
        "arn": f"arn:aws:ec2:{region}:aws:prefix-list/{prefix_list_id}",
        "addressFamily": "IPv4",
        "maxEntries": max_entries,
        "ownerId": "AWS",
        "version": 1,
        "entries": [],
        "tags": {},
        "region": region,
    }
