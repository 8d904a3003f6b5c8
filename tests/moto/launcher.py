"""moto's EC2 server for the wire tests, with the gaps that matter to vpce-rollout closed.

Serves on a free loopback port and prints one line, ``PORT <n>``, once it accepts connections.
It stops when its standard input closes (the Rust test process holding the other end exited),
so a crashed test run leaves no server behind.

moto[server] 5.2.5 (tests/moto/requirements.txt) differs from EC2 where the controller relies on
EC2's behaviour. Each patch below closes one such gap (named in GAPS) and is covered by a wire
test in tests/wire/ that fails without it (``--without GAP`` or ``--stock`` to check that; the
tests pass them on through VPCE_MOTO_WITHOUT and VPCE_MOTO_STOCK):

- ModifyVpcEndpoint ignores PrivateDnsEnabled; there is no enableDnsSupport/enableDnsHostnames
  precondition, no "service has no private DNS name" error and no conflict error for a second
  private-DNS endpoint of the same service in a VPC.
- CreateVpcEndpoint ignores ClientToken (the same token makes a second endpoint); endpoints are
  ``available`` at once (never ``pending``); nonexistent security groups, groups and subnets of
  another VPC, and two subnets in one Availability Zone are accepted.
- Endpoint ENIs carry the VPC's default security group instead of the endpoint's, addresses
  outside their subnet, interface type ``interface`` instead of ``vpc_endpoint``;
  ModifyVpcEndpoint's Add/RemoveSecurityGroupIds and Add/RemoveSubnetIds do not reach the ENIs.
- AuthorizeSecurityGroupIngress/Egress answers with the rules of the last permission only and
  is not atomic (a duplicate in the second permission leaves the first one added); the same
  security-group reference with another description is not a duplicate; descriptions of
  security-group and prefix-list references are dropped by DescribeSecurityGroupRules.
- DescribeNetworkInterfaces ignores MaxResults/NextToken; AssignPrivateIpAddresses ignores
  Ipv4Prefixes and DescribeNetworkInterfaces shows no Ipv4Prefixes (prefix delegation).
- CreateTags accepts security-group rule ids and VPC endpoint ids that do not exist (EC2 refuses
  the request).
- DeleteVpcEndpoints reports nothing for endpoints that do not exist; a deleted endpoint is
  listed forever as ``deleted`` instead of ``deleting`` for a while and then not at all.
- CloudWatch Logs (served too: groups, streams, PutLogEvents, FilterLogEvents with quoted terms):
  Logs Insights' StartQuery knows no ``filter`` on fields, no ``stats``, and no fields inside
  JSON messages, which Logs Insights discovers by their dotted paths (``srcids.instance``). The
  patch runs the subset the controller's readers send (src/logs/insights.rs: ``fields``,
  ``filter`` with ``=``/``in``/``like`` joined by ``and``, ``stats count(*)/max/min ... by``,
  ``limit``), with ``@timestamp`` printed as Logs Insights prints it, and leaves other queries to
  moto; GetQueryResults also reports what was scanned (``statistics``).

Test support (not EC2 behaviour):

- Accounts: a request signed with a 12-digit access key id runs in that account, so every test
  gets a world of its own on one server. Requests signed with credentials moto's STS AssumeRole
  handed out run (moto's own doing) and are recorded in the role's account.
- Requests served: ``GET /_vpce-rollout/requests?account=<id>`` answers, as JSON, every request
  of that account so far, in the order answered: ``[{"action", "status", "requestId", "at",
  "params"}]``, the request id being the one the answer carried (``x-amzn-requestid``), ``at``
  the server's monotonic clock in seconds when it answered, ``params`` the request's query
  parameters (first value of each), so that a test can check what the controller recorded, and
  when and in which order it asked for what, against what the server saw.
- Faults: ``POST /_vpce-rollout/faults`` with JSON ``{"account", "action", "code", "message",
  "status", "count"}`` makes the next ``count`` calls of ``action`` in ``account`` fail with that
  error, in EC2's error document (STS's for AssumeRole and GetCallerIdentity, CloudWatch Logs'
  JSON error for its actions, named without their ``Logs_20140328.`` prefix), e.g.
  RequestLimitExceeded/503, UnauthorizedOperation/403. With ``"page"`` instead
  of ``"code"``, the answer is that text as an HTML page, no EC2 error document: what a proxy or
  load balancer in front of EC2 answers (e.g. a 502).
"""

import argparse
import io
import ipaddress
import json
import os
import random
import re
import sys
import threading
import time
import urllib.parse
import uuid

PENDING_SECONDS = 1.0
FAULTS_PATH = "/_vpce-rollout/faults"
REQUESTS_PATH = "/_vpce-rollout/requests"

# Every gap the launcher closes, by name. `--without NAME,...` leaves some open, `--stock` all,
# to check that a wire test fails without its patch.
GAPS = {
    "pending-state": "CreateVpcEndpoint: endpoints are available at once, never pending",
    "client-token": "CreateVpcEndpoint ignores ClientToken",
    "endpoint-validation": "CreateVpcEndpoint accepts unknown groups, other VPCs' groups and subnets, two subnets in a zone",
    "endpoint-enis": "endpoint ENIs: the VPC default group, addresses outside the subnet, type interface",
    "modify-private-dns": "ModifyVpcEndpoint ignores PrivateDnsEnabled",
    "private-dns-preconditions": "no DNS-attribute, service-name or conflict check before private DNS",
    "modify-reaches-enis": "ModifyVpcEndpoint Add/RemoveSecurityGroupIds do not reach the ENIs",
    "delete-unsuccessful": "DeleteVpcEndpoints reports nothing for unknown endpoints",
    "delete-lifecycle": "a deleted endpoint is `deleted` at once and listed forever, never `deleting`, never gone",
    "authorize-response": "AuthorizeSecurityGroup* answers with the last permission's rules only",
    "authorize-atomic": "AuthorizeSecurityGroup* is not atomic",
    "duplicate-description": "the same group reference with another description is not a duplicate",
    "rule-descriptions": "DescribeSecurityGroupRules drops descriptions of group and prefix-list references",
    "eni-paging": "DescribeNetworkInterfaces ignores MaxResults/NextToken",
    "eni-prefixes": "AssignPrivateIpAddresses ignores Ipv4Prefixes; ENIs describe no Ipv4Prefixes",
    "tag-unknown-rules": "CreateTags accepts security-group rule ids that do not exist",
    "tag-unknown-endpoints": "CreateTags accepts VPC endpoint ids that do not exist",
    "insights-subset": "StartQuery: no filter on fields, no stats, no fields inside JSON messages",
}
CLOSED = set(GAPS)


def closes(gap):
    return gap in CLOSED


def ec2_error(code, message):
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError(code, message)


# --------------------------------------------------------------------------------------------
# VPC endpoints
# --------------------------------------------------------------------------------------------


def endpoint_service(backend, service_name):
    services = backend._collect_default_endpoint_services(backend.account_id, backend.region_name)
    custom = [c.to_dict() for c in backend.configurations.values()]
    for service in services + custom:
        if service.get("ServiceName") == service_name:
            return service
    return None


def private_dns_name(backend, service_name):
    service = endpoint_service(backend, service_name) or {}
    return service.get("PrivateDnsName")


def check_private_dns(backend, vpc_id, service_name, endpoint_id=None):
    """EC2's checks before private DNS is turned on (InvalidParameter, as EC2 reports them)."""
    vpc = backend.get_vpc(vpc_id)
    if not (vpc.enable_dns_support and vpc.enable_dns_hostnames):
        raise ec2_error(
            "InvalidParameter",
            "Enabling private DNS requires both enableDnsSupport and enableDnsHostnames "
            f"VPC attributes set to true for {vpc_id}",
        )
    dns_name = private_dns_name(backend, service_name)
    if not dns_name:
        raise ec2_error(
            "InvalidParameter",
            f"Private DNS can't be enabled because the service {service_name} does not provide "
            "a private DNS name.",
        )
    for other in backend.vpc_end_points.values():
        if (
            other.id != endpoint_id
            and other.vpc_id == vpc_id
            and other.private_dns_enabled
            and other.state not in ("deleted", "deleting", "failed", "rejected")
            and private_dns_name(backend, other.service_name) == dns_name
        ):
            raise ec2_error(
                "InvalidParameter",
                "private-dns-enabled cannot be set because there is already a conflicting DNS "
                f"domain for {dns_name} in the VPC {vpc_id}",
            )


def check_endpoint_network(backend, vpc_id, subnet_ids, group_ids):
    """Subnets and groups must exist, be in the endpoint's VPC, at most one subnet per zone."""
    zones = {}
    for subnet_id in subnet_ids:
        subnet = backend.get_subnet(subnet_id)  # InvalidSubnetID.NotFound
        if subnet.vpc_id != vpc_id:
            raise ec2_error(
                "InvalidParameter",
                f"The subnet ID '{subnet_id}' does not belong to the VPC '{vpc_id}'",
            )
        zone = subnet.availability_zone
        if zone in zones and zones[zone] != subnet_id:
            raise ec2_error(
                "DuplicateSubnetsInSameZone",
                f"Found another VPC endpoint subnet in the availability zone of {subnet_id}. "
                "VPC endpoint subnets should be in different availability zones supported by "
                "the VPC endpoint service.",
            )
        zones[zone] = subnet_id
    for group_id in group_ids:
        group = backend.get_security_group_from_id(group_id)
        if group is None:
            raise ec2_error("InvalidGroup.NotFound", f"The security group '{group_id}' does not exist")
        if group.vpc_id != vpc_id:
            raise ec2_error(
                "InvalidParameter",
                f"The security group '{group_id}' does not belong to the VPC '{vpc_id}'",
            )


def free_address(subnet, taken):
    """An address inside the subnet that no ENI uses (EC2 reserves the first four and the last)."""
    net = ipaddress.IPv4Network(subnet.cidr_block)
    hosts = net.num_addresses
    for _ in range(1000):
        candidate = str(net.network_address + random.randint(4, hosts - 2))
        if candidate not in taken:
            return candidate
    raise ec2_error("InsufficientFreeAddressesInSubnet", f"no free address in {subnet.id}")


def endpoint_groups(backend, endpoint):
    groups = [backend.get_security_group_from_id(g) for g in endpoint.security_group_ids]
    groups = [g for g in groups if g is not None]
    if not groups:
        default = backend.get_default_security_group(endpoint.vpc_id)
        groups = [default] if default else []
    return groups


def make_endpoint_eni(backend, endpoint, subnet_id):
    """An ENI as EC2 makes it for an interface endpoint."""
    subnet = backend.get_subnet(subnet_id)
    taken = {
        a.get("PrivateIpAddress")
        for eni in backend.enis.values()
        for a in eni.private_ip_addresses
    }
    address = free_address(subnet, taken)
    eni = backend.create_network_interface(
        subnet,
        address,
        group_ids=[g.id for g in endpoint_groups(backend, endpoint)],
        description=f"VPC Endpoint Interface {endpoint.id}",
    )
    eni.interface_type = "vpc_endpoint"
    eni.requester_managed = True
    eni.requester_id = "727180483921"
    eni.status = "in-use"
    return eni


def sync_endpoint_enis(backend, endpoint):
    """One ENI per endpoint subnet, each carrying the endpoint's security groups."""
    wanted = list(endpoint.subnet_ids or [])
    kept = []
    for eni_id in list(endpoint.network_interface_ids):
        eni = backend.enis.get(eni_id)
        if eni is None:
            continue
        if eni.subnet.id in wanted and eni.subnet.id not in [backend.enis[k].subnet.id for k in kept]:
            kept.append(eni_id)
        else:
            backend.enis.pop(eni_id, None)
    have = {backend.enis[k].subnet.id for k in kept}
    for subnet_id in wanted:
        if subnet_id not in have:
            kept.append(make_endpoint_eni(backend, endpoint, subnet_id).id)
    endpoint.network_interface_ids = kept
    groups = endpoint_groups(backend, endpoint)
    for eni_id in kept:
        backend.enis[eni_id]._group_set = list(groups)


def patch_endpoints():
    from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint
    from moto.ec2.responses.vpcs import VPCs

    # --- pending, then available (EC2 takes a minute or two; here PENDING_SECONDS) -----------
    original_init = VPCEndPoint.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._available_at = time.monotonic() + PENDING_SECONDS
        self._state = "pending"

    def get_state(self):
        state = self.__dict__.get("_state", "available")
        if state == "pending" and time.monotonic() >= self.__dict__.get("_available_at", 0):
            state = self._state = "available"
        return state

    def set_state(self, value):
        self._state = value

    if closes("pending-state"):
        VPCEndPoint.__init__ = init
        VPCEndPoint.state = property(get_state, set_state)

    # --- CreateVpcEndpoint: validation, ClientToken, private DNS, ENIs ------------------------
    original_create = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self, vpc_id, service_name, endpoint_type, policy_document, route_table_ids,
                            subnet_ids=None, network_interface_ids=None, dns_entries=None,
                            client_token=None, security_group_ids=None, tags=None,
                            private_dns_enabled=None):
        interface = (endpoint_type or "").lower() == "interface"
        request = json.dumps(
            [vpc_id, service_name, endpoint_type, policy_document, sorted(route_table_ids or []),
             sorted(subnet_ids or []), sorted(security_group_ids or []), bool(private_dns_enabled)],
        )
        tokens = self.__dict__.setdefault("_vpce_client_tokens", {})
        if client_token and closes("client-token"):
            known = tokens.get(client_token)
            if known is not None:
                if known[0] != request:
                    raise ec2_error(
                        "IdempotentParameterMismatch",
                        "The client token you have provided is associated with a resource that "
                        "was created with different parameters.",
                    )
                return self.vpc_end_points[known[1]]
        self.get_vpc(vpc_id)
        if interface and closes("endpoint-validation"):
            check_endpoint_network(self, vpc_id, subnet_ids or [], security_group_ids or [])
        if interface and private_dns_enabled and closes("private-dns-preconditions"):
            check_private_dns(self, vpc_id, service_name)
        endpoint = original_create(
            self, vpc_id, service_name, endpoint_type, policy_document, route_table_ids,
            subnet_ids=list(subnet_ids or []), network_interface_ids=network_interface_ids,
            dns_entries=dns_entries, client_token=client_token,
            security_group_ids=list(security_group_ids or []), tags=tags,
            private_dns_enabled=private_dns_enabled,
        )
        if interface and closes("endpoint-enis"):
            for eni_id in endpoint.network_interface_ids:
                self.enis.pop(eni_id, None)
            endpoint.network_interface_ids = []
            sync_endpoint_enis(self, endpoint)
        if client_token:
            tokens[client_token] = (request, endpoint.id)
        return endpoint

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint

    # --- ModifyVpcEndpoint: PrivateDnsEnabled, groups and subnets reach the ENIs ---------------
    original_modify_response = VPCs.modify_vpc_endpoint

    def modify_vpc_endpoint_response(self):
        backend = self.ec2_backend
        endpoint = backend.get_vpc_end_point(self._get_param("VpcEndpointId"))
        private_dns = self._get_param("PrivateDnsEnabled")
        enable = None if private_dns is None else str(private_dns).lower() == "true"
        interface = (endpoint.vpc_endpoint_type or "").lower() == "interface"
        if interface and closes("endpoint-validation"):
            subnets = [s for s in endpoint.subnet_ids or [] if s not in self._get_param("RemoveSubnetIds", [])]
            subnets += [s for s in self._get_param("AddSubnetIds", []) if s not in subnets]
            groups = [g for g in endpoint.security_group_ids if g not in self._get_param("RemoveSecurityGroupIds", [])]
            groups += [g for g in self._get_param("AddSecurityGroupIds", []) if g not in groups]
            check_endpoint_network(backend, endpoint.vpc_id, subnets, groups)
        if enable and not endpoint.private_dns_enabled and closes("private-dns-preconditions"):
            check_private_dns(backend, endpoint.vpc_id, endpoint.service_name, endpoint.id)
        result = original_modify_response(self)
        if enable is not None and closes("modify-private-dns"):
            endpoint.private_dns_enabled = enable
        if interface and closes("modify-reaches-enis"):
            sync_endpoint_enis(backend, endpoint)
        return result

    VPCs.modify_vpc_endpoint = modify_vpc_endpoint_response

    # --- DeleteVpcEndpoints: deleting for a while, then gone with its ENIs -------------------
    original_delete = VPCBackend.delete_vpc_endpoints
    original_describe = VPCBackend.describe_vpc_endpoints

    def sweep(backend):
        now = time.monotonic()
        for endpoint in list(backend.vpc_end_points.values()):
            gone_at = endpoint.__dict__.get("_gone_at")
            if gone_at is not None and now >= gone_at:
                backend.vpc_end_points.pop(endpoint.id, None)
                for eni_id in endpoint.network_interface_ids:
                    backend.enis.pop(eni_id, None)

    def delete_vpc_endpoints(self, vpce_ids=None):
        interface = []
        for vpce_id in vpce_ids or []:
            endpoint = self.vpc_end_points.get(vpce_id)
            if endpoint is None:
                continue
            if (endpoint.vpc_endpoint_type or "").lower() != "interface":
                original_delete(self, vpce_ids=[vpce_id])
            elif "_gone_at" not in endpoint.__dict__:
                interface.append(endpoint)
        for endpoint in interface:
            endpoint.state = "deleting"
            endpoint.__dict__["_gone_at"] = time.monotonic() + PENDING_SECONDS

    def describe_vpc_endpoints(self, vpc_end_point_ids, filters=None):
        sweep(self)
        return original_describe(self, vpc_end_point_ids, filters)

    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend

    original_enis = NetworkInterfaceBackend.get_all_network_interfaces

    def get_all_network_interfaces(self, eni_ids=None, filters=None):
        sweep(self)
        return original_enis(self, eni_ids, filters)

    if closes("delete-lifecycle"):
        VPCBackend.delete_vpc_endpoints = delete_vpc_endpoints
        VPCBackend.describe_vpc_endpoints = describe_vpc_endpoints
        NetworkInterfaceBackend.get_all_network_interfaces = get_all_network_interfaces

    # --- DeleteVpcEndpoints: per-item Unsuccessful -------------------------------------------
    from moto.core.responses import ActionResult

    def delete_vpc_endpoints_response(self):
        backend = self.ec2_backend
        if closes("delete-lifecycle"):
            sweep(backend)
        ids = self._get_param("VpcEndpointIds", [])
        unsuccessful = []
        found = []
        for vpce_id in ids:
            endpoint = backend.vpc_end_points.get(vpce_id)
            if endpoint is None or endpoint.state == "deleted":
                unsuccessful.append({
                    "ResourceId": vpce_id,
                    "Error": {
                        "Code": "InvalidVpcEndpoint.NotFound",
                        "Message": f"The Vpc Endpoint Id '{vpce_id}' does not exist",
                    },
                })
            else:
                found.append(vpce_id)
        backend.delete_vpc_endpoints(vpce_ids=found)
        return ActionResult({"Unsuccessful": unsuccessful})

    if closes("delete-unsuccessful"):
        VPCs.delete_vpc_endpoints = delete_vpc_endpoints_response


# --------------------------------------------------------------------------------------------
# Security group rules
# --------------------------------------------------------------------------------------------


def patch_security_groups():
    from moto.ec2.models.security_groups import SecurityGroupRule
    from moto.ec2.responses.security_groups import SecurityGroups
    from moto.core.responses import ActionResult

    # A rule's identity is its peer, not its description: EC2 rejects the same group reference
    # with another description as InvalidPermission.Duplicate.
    original_eq = SecurityGroupRule.__eq__

    def peer_key(group):
        return (group or {}).get("GroupId") or (group or {}).get("GroupName")

    def rule_eq(self, other):
        if not isinstance(other, SecurityGroupRule):
            return NotImplemented
        if peer_key(self.source_group) != peer_key(other.source_group):
            return False
        saved = (self.source_group, other.source_group)
        try:
            self.source_group = other.source_group = {}
            return original_eq(self, other)
        finally:
            self.source_group, other.source_group = saved

    if closes("duplicate-description"):
        SecurityGroupRule.__eq__ = rule_eq
        SecurityGroupRule.__hash__ = None

    original_rule_init = SecurityGroupRule.__init__

    def rule_init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, ip_range,
                  source_group=None, prefix_list_id=None, is_egress=True, tags=None):
        original_rule_init(self, ec2_backend, ip_protocol, group_id, from_port, to_port, ip_range,
                           source_group, prefix_list_id, is_egress, tags)
        self._prefix_list_description = (prefix_list_id or {}).get("Description")

    def rule_description(self):
        return (
            self.ip_range.get("Description")
            or (self.source_group or {}).get("Description")
            or self.__dict__.get("_prefix_list_description")
        )

    if closes("rule-descriptions"):
        SecurityGroupRule.__init__ = rule_init
        SecurityGroupRule.description = property(rule_description)

    # One call authorizes every permission or none, and answers with every rule it added.
    def atomic_authorize(egress):
        def handler(self):
            self.error_on_dryrun()
            backend = self.ec2_backend
            authorize = (
                backend.authorize_security_group_egress if egress
                else backend.authorize_security_group_ingress
            )
            requests = list(self._process_rules_from_querystring())
            group = None
            if requests:
                group = backend.get_security_group_by_name_or_id(requests[0]["group_name_or_id"])
            if group is None:
                raise ec2_error(
                    "InvalidGroup.NotFound",
                    f"The security group '{self._get_param('GroupId')}' does not exist",
                )
            before = list(group.egress_rules if egress else group.ingress_rules)
            added = []
            try:
                for kwargs in requests:
                    rules, _ = authorize(**kwargs)
                    # Stock moto answers with the last permission's rules only.
                    added = added + rules if closes("authorize-response") else rules
            except Exception:
                if closes("authorize-atomic"):
                    if egress:
                        group.egress_rules = before
                    else:
                        group.ingress_rules = before
                raise
            return ActionResult({"Return": True, "SecurityGroupRules": added})

        return handler

    SecurityGroups.authorize_security_group_ingress = atomic_authorize(False)
    SecurityGroups.authorize_security_group_egress = atomic_authorize(True)

    # CreateTags on a security-group rule (revoked meanwhile) or a VPC endpoint that does not
    # exist is refused, as EC2 does, instead of tagging nothing. (The request handler, not the
    # backend: moto tags new rules through the backend before they are in their group.)
    from moto.ec2.responses.tags import TagResponse

    original_create_tags = TagResponse.create_tags

    def create_tags(self):
        backend = self.ec2_backend
        known = {
            rule.id
            for by_vpc in backend.groups.values()
            for group in by_vpc.values()
            for rule in list(group.egress_rules) + list(group.ingress_rules)
        }
        for resource_id in self._get_param("Resources", []):
            if closes("tag-unknown-rules") and resource_id.startswith("sgr-") and resource_id not in known:
                raise ec2_error(
                    "InvalidSecurityGroupRuleId.NotFound",
                    f"The security group rule ID '{resource_id}' does not exist",
                )
            endpoint = resource_id.startswith("vpce-") and not resource_id.startswith("vpce-svc-")
            if closes("tag-unknown-endpoints") and endpoint and resource_id not in backend.vpc_end_points:
                raise ec2_error(
                    "InvalidVpcEndpointId.NotFound",
                    f"The Vpc Endpoint Id '{resource_id}' does not exist",
                )
        return original_create_tags(self)

    if closes("tag-unknown-rules") or closes("tag-unknown-endpoints"):
        TagResponse.create_tags = create_tags


# --------------------------------------------------------------------------------------------
# Network interfaces
# --------------------------------------------------------------------------------------------


def patch_network_interfaces():
    from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces
    from moto.core.responses import ActionResult

    def describe_network_interfaces(self):
        eni_ids = self._get_param("NetworkInterfaceIds", [])
        filters = self._filters_from_querystring()
        max_results = self._get_int_param("MaxResults")
        token = self._get_param("NextToken")
        self.error_on_dryrun()
        if max_results is not None:
            if eni_ids:
                raise ec2_error(
                    "InvalidParameterCombination",
                    "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults",
                )
            if not 5 <= max_results <= 1000:
                raise ec2_error(
                    "InvalidParameterValue",
                    f"Value ( {max_results} ) for parameter maxResults is invalid. "
                    "Expecting a value greater than 5 and less than 1000.",
                )
        enis = sorted(self.ec2_backend.get_all_network_interfaces(eni_ids, filters), key=lambda e: e.id)
        start = 0
        if token:
            match = re.fullmatch(r"after:(eni-[0-9a-f]+)", token)
            if not match:
                raise ec2_error("InvalidNextToken", f"The token '{token}' is invalid.")
            start = len([e for e in enis if e.id <= match.group(1)])
        page = enis[start:] if max_results is None else enis[start:start + max_results]
        result = {"NetworkInterfaces": page}
        if max_results is not None and start + len(page) < len(enis):
            result["NextToken"] = f"after:{page[-1].id}"
        return ActionResult(result)

    if closes("eni-paging"):
        ElasticNetworkInterfaces.describe_network_interfaces = describe_network_interfaces

    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    original_assign = ElasticNetworkInterfaces.assign_private_ip_addresses

    def assign_private_ip_addresses(self):
        """Secondary addresses as moto does them, plus delegated IPv4 prefixes, which the
        serializer finds as `ipv4_prefixes` (DescribeNetworkInterfaces' Ipv4Prefixes)."""
        prefixes = self._get_param("Ipv4Prefixes", [])
        if not prefixes:
            return original_assign(self)
        eni = self.ec2_backend.get_network_interface(self._get_param("NetworkInterfaceId"))
        have = {p["Ipv4Prefix"] for p in eni.ipv4_prefixes}
        eni.ipv4_prefixes = eni.ipv4_prefixes + [
            {"Ipv4Prefix": str(ipaddress.ip_network(p, strict=True))} for p in prefixes if p not in have
        ]
        result = {
            "NetworkInterfaceId": eni.id,
            "AssignedIpv4Prefixes": [{"Ipv4Prefix": p} for p in prefixes],
        }
        return ActionResult(result)

    if closes("eni-prefixes"):
        NetworkInterface.ipv4_prefixes = []
        ElasticNetworkInterfaces.assign_private_ip_addresses = assign_private_ip_addresses


# --------------------------------------------------------------------------------------------
# CloudWatch Logs: the Logs Insights subset the readers send (src/logs/insights.rs)
# --------------------------------------------------------------------------------------------


def insights_parse(text):
    """The query as commands, or None when it is not in the subset (moto runs it then)."""
    commands = []
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        verb, _, rest = part.partition(" ")
        rest = rest.strip()
        if verb == "fields":
            commands.append(("fields", None))
        elif verb == "filter":
            conditions = []
            condition = re.compile(
                r"\s*([\w.@]+)\s+(?:=\s+'((?:[^'\\]|\\.)*)'|=\s+(-?\d+)|in\s+\[([^\]]*)\]|like\s+/([^/]*)/)\s*"
            )
            pos = 0
            while pos < len(rest):
                m = condition.match(rest, pos)
                if not m:
                    return None
                field, text_value, number, values, regex = m.groups()
                if text_value is not None:
                    conditions.append((field, "eq", re.sub(r"\\(.)", r"\1", text_value)))
                elif number is not None:
                    conditions.append((field, "eq", number))
                elif values is not None:
                    items = re.findall(r"'((?:[^'\\]|\\.)*)'", values)
                    conditions.append((field, "in", [re.sub(r"\\(.)", r"\1", v) for v in items]))
                else:
                    conditions.append((field, "like", re.compile(regex)))
                pos = m.end()
                if pos < len(rest):
                    if not rest.startswith("and ", pos):
                        return None
                    pos += 4
            commands.append(("filter", conditions))
        elif verb == "stats":
            aggs, _, by = rest.partition(" by ")
            aggregates = []
            for item in aggs.split(","):
                call, _, alias = item.strip().partition(" as ")
                m = re.fullmatch(r"(count|max|min)\(\s*([\w.@*]+)\s*\)", call.strip())
                if not m or not alias:
                    return None
                aggregates.append((m.group(1), m.group(2), alias.strip()))
            commands.append(("stats", (aggregates, [f.strip() for f in by.split(",") if f.strip()])))
        elif verb == "limit":
            commands.append(("limit", int(rest)))
        else:
            return None
    return commands


def insights_timestamp(ms):
    import datetime

    t = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}"


def insights_fields(event, stream):
    fields = {
        "@timestamp": insights_timestamp(event.timestamp),
        "@message": event.message,
        "@logStream": stream.log_stream_name,
    }

    def flatten(prefix, value):
        if isinstance(value, dict):
            for k, v in value.items():
                flatten(f"{prefix}.{k}" if prefix else k, v)
        elif value is None:
            pass
        elif isinstance(value, str):
            fields[prefix] = value
        else:
            fields[prefix] = json.dumps(value)

    try:
        message = json.loads(event.message)
    except ValueError:
        message = None
    if isinstance(message, dict):
        flatten("", message)
    return fields


def insights_run(commands, log_groups, start_time, end_time):
    rows, scanned = [], [0, 0]
    for group in log_groups:
        for stream in group.streams.values():
            for event in stream.events:
                if start_time and event.timestamp < start_time * 1000:
                    continue
                if end_time and event.timestamp > end_time * 1000 + 999:
                    continue
                scanned[0] += 1
                scanned[1] += len(event.message.encode())
                rows.append(insights_fields(event, stream))
    rows.sort(key=lambda r: r["@timestamp"], reverse=True)
    limit = None
    for verb, arg in commands:
        if verb == "filter":
            def holds(row, c):
                field, op, value = c
                v = row.get(field)
                if v is None:
                    return False
                if op == "eq":
                    return v == value
                if op == "in":
                    return v in value
                return value.search(v) is not None

            rows = [r for r in rows if all(holds(r, c) for c in arg)]
        elif verb == "stats":
            aggregates, by = arg
            groups = {}
            for r in rows:
                groups.setdefault(tuple(r.get(f) for f in by), []).append(r)
            out = []
            for key in sorted(groups, key=lambda k: [x or "" for x in k]):
                members = groups[key]
                row = {f: v for f, v in zip(by, key) if v is not None}
                for fn, field, alias in aggregates:
                    if fn == "count":
                        row[alias] = str(len(members))
                    else:
                        values = [m[field] for m in members if field in m]
                        if values:
                            row[alias] = max(values) if fn == "max" else min(values)
                out.append(row)
            rows = out
        elif verb == "limit":
            limit = arg
    if limit is not None:
        rows = rows[:limit]
    return rows, scanned


def patch_logs():
    from moto.logs import models
    from moto.logs.models import LogQuery

    original_init = LogQuery.__init__

    def init(self, query_id, start_time, end_time, query, log_groups):
        commands = insights_parse(query)
        if commands is None:
            original_init(self, query_id, start_time, end_time, query, log_groups)
            self.scanned = None
            return
        self.query_id = query_id
        self.start_time = start_time
        self.end_time = end_time
        self.query = query
        self.log_group_names = [lg.name for lg in log_groups]
        self.create_time = models.utcnow()
        self.results, self.scanned = insights_run(commands, log_groups, start_time, end_time)
        self.status = "Complete"

    original_result = LogQuery.to_result_json

    def to_result_json(self):
        result = original_result(self)
        if getattr(self, "scanned", None) is not None:
            result["statistics"] = {
                "recordsMatched": float(len(self.results)),
                "recordsScanned": float(self.scanned[0]),
                "bytesScanned": float(self.scanned[1]),
            }
        return result

    if closes("insights-subset"):
        LogQuery.__init__ = init
        LogQuery.to_result_json = to_result_json


# --------------------------------------------------------------------------------------------
# Test support: accounts and injected faults
# --------------------------------------------------------------------------------------------

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = {}  # (account, action) -> [fault, remaining]

    def add(self, spec):
        key = (str(spec["account"]), spec["action"])
        if "page" in spec:
            fault = {"page": str(spec["page"]), "status": int(spec.get("status", 502))}
        else:
            fault = {
                "code": spec["code"],
                "message": spec.get("message", spec["code"]),
                "status": int(spec.get("status", 400)),
            }
        with self.lock:
            self.pending[key] = [fault, int(spec.get("count", 1))]

    def take(self, account, action):
        with self.lock:
            entry = self.pending.get((account, action))
            if not entry:
                return None
            entry[1] -= 1
            if entry[1] <= 0:
                del self.pending[(account, action)]
            return entry[0]


# Actions of STS (the controller's account, assumed roles): their errors are STS's documents.
STS_ACTIONS = {"AssumeRole", "GetCallerIdentity"}
# CloudWatch Logs' X-Amz-Target prefix; its actions' errors are JSON documents.
LOGS_TARGET_PREFIX = "Logs_20140328."
LOGS_ACTIONS = {"StartQuery", "GetQueryResults", "FilterLogEvents", "PutLogEvents", "CreateLogGroup",
                "CreateLogStream", "DescribeLogGroups", "StopQuery"}


def error_response(start_response, fault, action):
    from xml.sax.saxutils import escape

    headers = []
    if "page" in fault:
        body, content_type = fault["page"].encode(), "text/html"
    elif action in LOGS_ACTIONS:
        request_id = str(uuid.uuid4())
        body = json.dumps({"__type": fault["code"], "message": fault["message"]}).encode()
        content_type = "application/x-amz-json-1.1"
        headers.append(("x-amzn-requestid", request_id))
    elif action in STS_ACTIONS:
        request_id = str(uuid.uuid4())
        body = (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            f"<Code>{escape(fault['code'])}</Code><Message>{escape(fault['message'])}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        content_type = "text/xml"
        headers.append(("x-amzn-requestid", request_id))
    else:
        # EC2 sends the request id both ways: in the error document and as x-amzn-requestid.
        request_id = str(uuid.uuid4())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(fault['code'])}</Code><Message>{escape(fault['message'])}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        content_type = "text/xml"
        headers.append(("x-amzn-requestid", request_id))
    reason = {
        400: "Bad Request",
        403: "Forbidden",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
    start_response(
        f"{fault['status']} {reason.get(fault['status'], 'Error')}",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))] + headers,
    )
    return [body]


class Served:
    """Every request answered, per account: its action, parameters, HTTP status, request id and
    when it was answered."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_account = {}

    def recording(self, start_response, account, action, params):
        def start(status, headers, exc_info=None):
            request_id = next((v for k, v in headers if k.lower() == "x-amzn-requestid"), None)
            with self.lock:
                self.by_account.setdefault(account, []).append({
                    "action": action,
                    "status": int(status.split()[0]),
                    "requestId": request_id,
                    "at": time.monotonic(),
                    "params": params,
                })
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return start

    def answer(self, environ, start_response):
        account = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("account", [""])[0]
        with self.lock:
            body = json.dumps(self.by_account.get(account, [])).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def assumed_account(access_key_id):
    """The account of credentials moto's STS AssumeRole handed out (moto runs their requests in
    the role's account by itself), so that they are recorded there; None for any other key."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    account = get_account_id_from(access_key_id)
    return None if account == DEFAULT_ACCOUNT_ID else account


class TestSupport:
    """WSGI middleware: per-access-key accounts, the fault endpoint, injected faults, the
    record of requests served."""

    def __init__(self, app, faults):
        self.app = app
        self.faults = faults
        self.served = Served()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == FAULTS_PATH:
            return self.control(environ, start_response)
        if environ.get("PATH_INFO") == REQUESTS_PATH:
            return self.served.answer(environ, start_response)
        account = None
        match = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        if match and re.fullmatch(r"\d{12}", match.group(1)):
            account = match.group(1)
            environ["HTTP_X_MOTO_ACCOUNT_ID"] = account
        elif match:
            account = assumed_account(match.group(1))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        query = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        action = query.get("Action", [None])[0]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(LOGS_TARGET_PREFIX):
            # CloudWatch Logs speaks JSON: the action is in X-Amz-Target, parameters in the body.
            action = target[len(LOGS_TARGET_PREFIX):]
            try:
                document = json.loads(body or b"{}")
            except ValueError:
                document = {}
            query = {k: [v if isinstance(v, str) else json.dumps(v)] for k, v in document.items()}
        if account and action:
            params = {k: v[0] for k, v in query.items()}
            start_response = self.served.recording(start_response, account, action, params)
            fault = self.faults.take(account, action)
            if fault:
                return error_response(start_response, fault, action)
        return self.app(environ, start_response)

    def control(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            spec = json.loads(environ["wsgi.input"].read(length) or b"{}")
            self.faults.add(spec)
        except (ValueError, KeyError, TypeError) as e:
            body = f"bad fault: {e}\n".encode()
            start_response("400 Bad Request", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        start_response("204 No Content", [])
        return [b""]


def main():
    global PENDING_SECONDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--pending-seconds", type=float, default=PENDING_SECONDS,
                        help="how long a new endpoint stays pending")
    parser.add_argument("--stock", action="store_true",
                        help="serve moto without any patch (to see which wire tests need them)")
    parser.add_argument("--without", default="",
                        help="comma-separated gaps to leave open: " + ", ".join(GAPS))
    args = parser.parse_args()
    PENDING_SECONDS = args.pending_seconds
    without = {g for g in args.without.split(",") if g}
    unknown = without - set(GAPS)
    if unknown:
        parser.error(f"unknown gaps {sorted(unknown)}; known: {', '.join(GAPS)}")
    CLOSED.difference_update(set(GAPS) if args.stock else without)

    patch_endpoints()
    patch_security_groups()
    patch_network_interfaces()
    patch_logs()

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietHandler(MotoRequestHandler):
        def log_request(self, code="-", size="-"):
            pass

    app = TestSupport(DomainDispatcherApplication(create_backend_app), Faults())
    # Loopback only: the tests never need anything else to reach it.
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=QuietHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"PORT {server.server_port}", flush=True)

    # Until the test process goes away.
    try:
        while sys.stdin.read(4096):
            pass
    except KeyboardInterrupt:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
