"""Network: the stack's virtual network with one subnet for AKS nodes and one for agents."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import network

from components.naming import split_subnets


@dataclass(frozen=True)
class NetworkArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    vnet_cidr: str
    tags: dict[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """Builds a virtual network and its subnets, split from `vnet_cidr` by
    `naming.split_subnets`: `aks` for the cluster nodes (pods live in the overlay range) and
    `agents` for the build-agent VMs. Outputs the network id and the subnet ids by role."""

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
        self.resource_id = vnet.id
        self.subnet_ids = {}
        for role, cidr in split_subnets(args.vnet_cidr).items():
            subnet = network.Subnet(
                f"{name}-{role}",
                subnet_name=role,
                resource_group_name=args.resource_group_name,
                virtual_network_name=vnet.name,
                address_prefix=cidr,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.subnet_ids[role] = subnet.id
        self.register_outputs({"resource_id": self.resource_id, "subnet_ids": self.subnet_ids})
