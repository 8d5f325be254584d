"""ImagePromotion: makes `<target>/<repo>@<digest>` exist with a version tag.

A Pulumi dynamic resource: `pulumi up` runs the promotion (promotion.promote: ACR import with
the azure-native provider's login, or a registry copy announced in the output) when the
promotion is created or its digest, tag or registries change, and hands the digest
reference on, so the app deploys exactly the promoted image. Deleting it leaves the images
in the target registry; tearing the registry down removes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic

# Changes to any of these make a new promotion (a replace); credentials alone do not.
IDENTITY = ("repository", "digest", "tag", "targetServer", "sourceServer")


@dataclass(frozen=True)
class ImagePromotionArgs:
    repository: str
    digest: str
    tag: str
    source_server: pulumi.Input[str]
    source_username: pulumi.Input[str]
    source_password: pulumi.Input[str]
    source_registry_id: pulumi.Input[str]
    target_server: pulumi.Input[str]
    target_username: pulumi.Input[str]
    target_password: pulumi.Input[str]
    target_registry_id: pulumi.Input[str]
    method: str = "auto"  # "auto", "acr-import" or "oci-copy"


class _PromotionProvider(pulumi.dynamic.ResourceProvider):
    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        # Imported here: the provider runs in Pulumi's dynamic-provider host, not the program.
        from promotion.copy import copy_image
        from promotion.promote import Promotion, promote
        from promotion.registry_client import RegistryClient

        promotion = Promotion(
            repository=props["repository"],
            digest=props["digest"],
            tag=props["tag"],
            source_server=props["sourceServer"],
            target_server=props["targetServer"],
            source_registry_id=props["sourceRegistryId"],
            target_registry_id=props["targetRegistryId"],
        )

        def oci_copy() -> None:
            copy_image(
                RegistryClient(props["sourceServer"], props["sourceUsername"], props["sourcePassword"]),
                RegistryClient(props["targetServer"], props["targetUsername"], props["targetPassword"]),
                promotion.repository,
                promotion.digest,
                promotion.tag,
            )

        # The dynamic-provider host has no engine connection, so pulumi.log writes "warning: ..."
        # to its stderr, which the CLI shows in the update's output and diagnostics (attributed to
        # the stack, hence the image named in the message).
        outcome = promote(
            promotion, requested=props["method"], env=os.environ, oci_copy=oci_copy, announce=pulumi.log.warn
        )
        image = f"{props['targetServer']}/{props['repository']}@{props['digest']}"
        pulumi.log.info(
            f"promoted {promotion.target_image} -> {promotion.digest} by {outcome.method}: {outcome.reason}"
        )
        outs = {**_public(props), "image": image, "method": outcome.method, "methodReason": outcome.reason}
        return pulumi.dynamic.CreateResult(id_=image, outs=outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        replaces = [key for key in IDENTITY if olds.get(key) != news.get(key)]
        return pulumi.dynamic.DiffResult(changes=bool(replaces), replaces=replaces, delete_before_replace=False)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # The promoted image stays: prod may still run it, and the registry's teardown
        # removes it with everything else.
        return None


def _public(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if not k.endswith("Password")}


class ImagePromotion(pulumi.dynamic.Resource):
    """Copies one image by digest into the target registry under a version tag (ACR import
    or a registry-to-registry copy, see promotion.promote). Outputs `image`, the
    `<target>/<repo>@<digest>` reference to deploy, and the `method` used. The state also keeps
    `methodReason` for the record (the Azure login that imported, or why the import was not
    used; never a secret): nothing in the program reads it, and a dynamic resource's attributes
    carry the state's camelCase names, so it is not an attribute here."""

    image: pulumi.Output[str]
    method: pulumi.Output[str]

    def __init__(self, name: str, args: ImagePromotionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            _PromotionProvider(),
            name,
            {
                "repository": args.repository,
                "digest": args.digest,
                "tag": args.tag,
                "method": args.method,
                "sourceServer": args.source_server,
                "sourceUsername": args.source_username,
                "sourcePassword": pulumi.Output.secret(args.source_password),
                "sourceRegistryId": args.source_registry_id,
                "targetServer": args.target_server,
                "targetUsername": args.target_username,
                "targetPassword": pulumi.Output.secret(args.target_password),
                "targetRegistryId": args.target_registry_id,
                "image": None,
            },
            opts,
        )
