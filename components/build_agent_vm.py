"""BuildAgentVm: a Windows VM with Docker and a self-hosted Azure Pipelines agent."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
from pulumi_azure_native import authorization, compute, devtestlab, network

from components.agent_bootstrap import AgentSettings, PatLocation, command, public_settings, script_text
from components.naming import KEY_VAULT_SECRETS_USER_ROLE, role_definition_id, shutdown_schedule_name
from components.network import standard_public_ip
from components.passwords import generated_password
from components.pat_vault import PatSecret

# The extension may run for up to 90 minutes (Windows feature, Docker, agent download).
EXTENSION_TIMEOUT = "90m"


@dataclass(frozen=True)
class ShutdownArgs:
    time: str  # HHmm
    time_zone: str


@dataclass(frozen=True)
class BuildAgentVmArgs:
    resource_group_name: pulumi.Input[str]
    location: pulumi.Input[str]
    subnet_id: pulumi.Input[str]
    vm_name: str
    computer_name: str
    vm_size: str
    os_disk_size_gb: int
    image_sku: str
    admin_username: str
    agent: AgentSettings
    pat: PatSecret  # where the VM reads the PAT; the PAT itself never reaches this component
    spot: bool = False
    public_ip: bool = False  # only where remote desktop is allowed from configured ranges
    shutdown: ShutdownArgs | None = None
    tags: dict[str, str] = field(default_factory=dict)
    # What the registration waits for (the team's agent pool, when the stack makes it). A
    # component's own depends_on does not reach its children (pulumi/runtime/resource.py
    # takes a resource's dependencies from its own options only), so it is passed here.
    registers_after: tuple[pulumi.Resource, ...] = ()


class BuildAgentVm(pulumi.ComponentResource):
    """Builds a NIC in the agents subnet (a public address only on request), a Windows
    Server VM on the image of the app's Windows release with a generated admin password and a
    system-assigned identity, that identity's read grant on the PAT's Key Vault secret, the
    Custom Script Extension that installs Docker and the pipeline's tools and registers the
    agent, and the daily auto-shutdown. Outputs the VM name, resource id, private address and
    admin credentials, the password as a secret."""

    name: pulumi.Output[str]
    resource_id: pulumi.Output[str]
    private_ip: pulumi.Output[str]
    admin_username: pulumi.Output[str]
    admin_password: pulumi.Output[str]

    def __init__(self, name: str, args: BuildAgentVmArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("musicstore:azure:BuildAgentVm", name, None, opts)
        nic = self._create_nic(name, args)
        password = generated_password(f"{name}-admin-password", self)
        vm = self._create_vm(name, args, nic, password)
        grant = self._grant_pat_read(name, args, vm)
        self._create_bootstrap(name, args, vm, grant)
        if args.shutdown is not None:
            self._create_shutdown(name, args, args.shutdown, vm)
        self.name = vm.name
        self.resource_id = vm.id
        self.private_ip = nic.ip_configurations.apply(_private_ip)
        self.admin_username = pulumi.Output.from_input(args.admin_username)
        self.admin_password = password
        self.register_outputs(
            {
                "name": self.name,
                "resource_id": self.resource_id,
                "private_ip": self.private_ip,
                "admin_username": self.admin_username,
                "admin_password": self.admin_password,
            }
        )

    def _create_nic(self, name: str, args: BuildAgentVmArgs) -> network.NetworkInterface:
        public_ip = None
        if args.public_ip:
            address = standard_public_ip(
                f"{name}-ip", f"pip-{args.vm_name}", args.resource_group_name, args.location, args.tags, self
            )
            public_ip = network.PublicIPAddressArgs(id=address.id)
        return network.NetworkInterface(
            f"{name}-nic",
            network_interface_name=f"nic-{args.vm_name}",
            resource_group_name=args.resource_group_name,
            location=args.location,
            ip_configurations=[
                network.NetworkInterfaceIPConfigurationArgs(
                    name="primary",
                    primary=True,
                    private_ip_allocation_method="Dynamic",
                    subnet=network.SubnetArgs(id=args.subnet_id),
                    public_ip_address=public_ip,
                )
            ],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_vm(
        self, name: str, args: BuildAgentVmArgs, nic: network.NetworkInterface, password: pulumi.Output[str]
    ) -> compute.VirtualMachine:
        return compute.VirtualMachine(
            name,
            vm_name=args.vm_name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            hardware_profile=compute.HardwareProfileArgs(vm_size=args.vm_size),
            # The "with Containers" images were withdrawn in 2023: plain Datacenter, and the
            # bootstrap adds the Containers feature and Docker.
            storage_profile=compute.StorageProfileArgs(
                image_reference=compute.ImageReferenceArgs(
                    publisher="MicrosoftWindowsServer", offer="WindowsServer", sku=args.image_sku, version="latest"
                ),
                os_disk=compute.OSDiskArgs(
                    create_option="FromImage",
                    caching="ReadWrite",
                    disk_size_gb=args.os_disk_size_gb,
                    delete_option="Delete",
                    managed_disk=compute.ManagedDiskParametersArgs(storage_account_type="Premium_LRS"),
                ),
            ),
            os_profile=compute.OSProfileArgs(
                computer_name=args.computer_name,
                admin_username=args.admin_username,
                admin_password=password,
                windows_configuration=compute.WindowsConfigurationArgs(
                    enable_automatic_updates=True, provision_vm_agent=True
                ),
            ),
            network_profile=compute.NetworkProfileArgs(
                network_interfaces=[compute.NetworkInterfaceReferenceArgs(id=nic.id, primary=True)]
            ),
            security_profile=compute.SecurityProfileArgs(
                security_type="TrustedLaunch",
                uefi_settings=compute.UefiSettingsArgs(secure_boot_enabled=True, v_tpm_enabled=True),
            ),
            # The identity the bootstrap reads the PAT from Key Vault with, through IMDS.
            identity=compute.VirtualMachineIdentityArgs(type="SystemAssigned"),
            priority="Spot" if args.spot else None,
            eviction_policy="Deallocate" if args.spot else None,
            billing_profile=compute.BillingProfileArgs(max_price=-1) if args.spot else None,
            tags=args.tags,
            # The computer name and admin username are fixed at creation; Azure does not
            # return the password, so it must not cause a diff either. The password sits inside
            # osProfile, which the engine would not re-mark secret in the state by itself.
            # A replacement (`musicstore team replace-agent`, `pulumi up --replace`) deletes first:
            # the new VM takes the old one's name and network interface, and for a replace asked
            # on the command line the engine creates first unless the resource says otherwise
            # (pulumi pkg/resource/deploy/step_generator.go, diff and its deleteBeforeReplace).
            opts=pulumi.ResourceOptions(
                parent=self,
                ignore_changes=["osProfile.adminPassword"],
                additional_secret_outputs=["osProfile"],
                delete_before_replace=True,
            ),
        )

    def _grant_pat_read(
        self, name: str, args: BuildAgentVmArgs, vm: compute.VirtualMachine
    ) -> authorization.RoleAssignment:
        """Key Vault Secrets User on the one secret: the VM reads the PAT and nothing else."""
        return authorization.RoleAssignment(
            f"{name}-pat-reader",
            principal_id=vm.identity.apply(lambda i: (i.principal_id or "") if i else ""),
            principal_type="ServicePrincipal",
            role_definition_id=pulumi.Output.from_input(args.pat.secret_id).apply(
                lambda sid: role_definition_id(sid, KEY_VAULT_SECRETS_USER_ROLE)
            ),
            scope=args.pat.secret_id,
            # A new VM is a new identity: its grant goes and comes with it.
            opts=pulumi.ResourceOptions(parent=self, replace_with=[vm]),
        )

    def _create_bootstrap(
        self, name: str, args: BuildAgentVmArgs, vm: compute.VirtualMachine, grant: pulumi.Resource
    ) -> None:
        script = script_text()
        pat = args.pat
        compute.VirtualMachineExtension(
            f"{name}-bootstrap",
            vm_extension_name="agent-bootstrap",
            vm_name=vm.name,
            resource_group_name=args.resource_group_name,
            location=args.location,
            publisher="Microsoft.Compute",
            type="CustomScriptExtension",
            type_handler_version="1.10",
            auto_upgrade_minor_version=True,
            # A new PAT is a new version of its secret: the timestamp changes and the extension
            # reruns, while neither input carries the PAT or anything derived from it.
            settings=pulumi.Output.from_input(pat.version_uri).apply(lambda v: public_settings(script, args.agent, v)),
            protected_settings=pulumi.Output.from_input(pat.vault_name).apply(
                lambda vault: {"commandToExecute": command(script, args.agent, PatLocation(vault, pat.secret_name))}
            ),
            tags=args.tags,
            # The script reads the PAT as soon as it runs: the VM's grant must exist first; it
            # registers the agent: its pool must exist first. Azure deletes a VM's extensions with
            # it: a new VM needs the bootstrap again, so the extension is replaced with the VM,
            # delete-first, as its name is fixed (a create-first replacement's delete of the old
            # one would remove the new one, at the same ARM id).
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[grant, *args.registers_after],
                replace_with=[vm],
                delete_before_replace=True,
                custom_timeouts=pulumi.CustomTimeouts(create=EXTENSION_TIMEOUT, update=EXTENSION_TIMEOUT),
            ),
        )

    def _create_shutdown(
        self, name: str, args: BuildAgentVmArgs, shutdown: ShutdownArgs, vm: compute.VirtualMachine
    ) -> None:
        devtestlab.GlobalSchedule(
            f"{name}-shutdown",
            name=shutdown_schedule_name(args.vm_name),
            resource_group_name=args.resource_group_name,
            location=args.location,
            status="Enabled",
            task_type="ComputeVmShutdownTask",
            daily_recurrence=devtestlab.DayDetailsArgs(time=shutdown.time),
            time_zone_id=shutdown.time_zone,
            target_resource_id=vm.id,
            notification_settings=devtestlab.NotificationSettingsArgs(status="Disabled"),
            tags=args.tags,
            # The schedule names its VM: a new VM gets its schedule anew, delete-first, as the
            # schedule's name is fixed (shutdown-computevm-<vm>: one ARM id for old and new).
            opts=pulumi.ResourceOptions(parent=self, replace_with=[vm], delete_before_replace=True),
        )


def _private_ip(configurations: list[network.outputs.NetworkInterfaceIPConfigurationResponse] | None) -> str:
    primary = next(iter(configurations or []), None)
    return (primary.private_ip_address or "") if primary else ""
