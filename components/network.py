"""Network: the stack's virtual network, its subnets, and the agents' guard and way out."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network

from components.naming import split_subnets

# Remote administration: RDP, WinRM over HTTP and HTTPS, SSH.
REMOTE_ADMIN_PORTS = ["3389", "5985", "5986", "22"]


@dataclass(frozen=True)
class NetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    vnet_cidr: str
    # Sources allowed to reach the agents by remote desktop; empty allows none.
    rdp_source_ranges: tuple[str, ...] = ()
    # Build agents download Docker, the agent and GBs of images: they need a way out.
    agents_outbound: bool = False
    tags: dict[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """Builds a virtual network and its subnets, split from `vnet_cidr` by
    `naming.split_subnets`: `aks` for the cluster nodes (pods live in the overlay range) and
    `agents` for the build-agent VMs, guarded by a network security group that admits remote
    administration only from `rdp_source_ranges`, and, when agents need it, a NAT gateway
    (Azure retires default outbound access for new subnets). Outputs the network id and the
    subnet ids by role."""

    resource_id: pulumi.Output[str]
    subnet_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azure:Network", name, None, opts)
        vnet = network.VirtualNetwork(
            name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            address_space=network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
            tags=args.tags,
            # Subnets are separate resources below; the network must not claim them.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        guard = self._create_agents_guard(name, args)
        nat = self._create_nat_gateway(name, args) if args.agents_outbound else None
        self.resource_id = vnet.id
        self.subnet_ids = {}
        for role, cidr in split_subnets(args.vnet_cidr).items():
            agents = role == "agents"
            subnet = network.Subnet(
                f"{name}-{role}",
                subnet_name=role,
                resource_group_name=args.resource_group_name,
                virtual_network_name=vnet.name,
                address_prefix=cidr,
                network_security_group=network.NetworkSecurityGroupArgs(id=guard.id) if agents else None,
                nat_gateway=network.SubResourceArgs(id=nat.id) if agents and nat else None,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.subnet_ids[role] = subnet.id
        self.register_outputs({"resource_id": self.resource_id, "subnet_ids": self.subnet_ids})

    def _create_agents_guard(self, name: str, args: NetworkArgs) -> network.NetworkSecurityGroup:
        rules = []
        if args.rdp_source_ranges:
            rules.append(
                network.SecurityRuleArgs(
                    name="allow-rdp-from-configured-ranges",
                    priority=100,
                    direction="Inbound",
                    access="Allow",
                    protocol="Tcp",
                    source_address_prefixes=list(args.rdp_source_ranges),
                    source_port_range="*",
                    destination_address_prefix="*",
                    destination_port_range="3389",
                )
            )
        # Azure's default rules already drop Internet traffic; this rule also closes remote
        # administration inside the network, and survives anyone adding a broad allow later.
        rules.append(
            network.SecurityRuleArgs(
                name="deny-remote-admin-from-elsewhere",
                priority=4000,
                direction="Inbound",
                access="Deny",
                protocol="*",
                source_address_prefix="*",
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_ranges=REMOTE_ADMIN_PORTS,
            )
        )
        return network.NetworkSecurityGroup(
            f"{name}-agents",
            network_security_group_name=f"nsg-{name}-agents",
            resource_group_name=args.resource_group_name,
            location=args.location,
            security_rules=rules,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_nat_gateway(self, name: str, args: NetworkArgs) -> network.NatGateway:
        address = standard_public_ip(
            f"{name}-nat-ip", f"pip-{name}-nat", args.resource_group_name, args.location, args.tags, self
        )
        return network.NatGateway(
            f"{name}-nat",
            nat_gateway_name=f"nat-{name}-agents",
            resource_group_name=args.resource_group_name,
            location=args.location,
            sku=network.NatGatewaySkuArgs(name="Standard"),
            public_ip_addresses=[network.SubResourceArgs(id=address.id)],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )


def standard_public_ip(
    name: str,
    physical_name: str,
    resource_group_name: pulumi.Input[str],
    location: pulumi.Input[str],
    tags: dict[str, str],
    parent: pulumi.Resource,
) -> network.PublicIPAddress:
    """A static IPv4 address of the Standard SKU (Basic addresses are retired)."""
    return network.PublicIPAddress(
        name,
        public_ip_address_name=physical_name,
        resource_group_name=resource_group_name,
        location=location,
        sku=network.PublicIPAddressSkuArgs(name="Standard"),
        public_ip_allocation_method="Static",
        tags=tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
