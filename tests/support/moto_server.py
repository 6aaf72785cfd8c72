"""moto_server, with what AWS does and moto 5.2 does not of tagging at creation.

AWS tags an AMI's snapshots from CreateImage's `snapshot` TagSpecification, and the image and
its snapshots from CopyImage's TagSpecifications, in the same call. moto raises
NotImplementedError on the first and drops the second. Applied here, inside moto's process, as
part of the call — as on AWS, the tags are there when the call returns, and no extra calls are
made (an emulation in front of moto cost three more calls per copy, which a benchmark then
counted as the tool's time).

Usage: the same arguments as moto_server (this file is run by the venv's Python).
"""
import sys

from moto.ec2.models.amis import AmiBackend
from moto.ec2.responses.amis import AmisResponse
from moto.server import main


def tags_for(specs, resource_type):
    """The tags a list of parsed TagSpecifications gives one resource type."""
    return {t["Key"]: t["Value"]
            for s in specs or [] if s.get("ResourceType") == resource_type
            for t in s.get("Tags", [])}


moto_create_image = AmiBackend.create_image
moto_copy_image = AmisResponse.copy_image


def create_image(self, instance_id, name, description, tag_specifications):
    ami = moto_create_image(self, instance_id, name, description,
                            [s for s in tag_specifications if s.get("ResourceType") != "snapshot"])
    snapshot_tags = tags_for(tag_specifications, "snapshot")
    if snapshot_tags:
        self.create_tags([ami.ebs_snapshot.id], snapshot_tags)
    return ami


def copy_image(self):
    out = moto_copy_image(self)
    specs = self._get_param("TagSpecifications", [])
    ami = self.ec2_backend.amis[out.result["ImageId"]]
    for resource_type, resource_id in (("image", ami.id), ("snapshot", ami.ebs_snapshot.id)):
        tags = tags_for(specs, resource_type)
        if tags:
            self.ec2_backend.create_tags([resource_id], tags)
    return out


AmiBackend.create_image = create_image
AmisResponse.copy_image = copy_image

if __name__ == "__main__":
    sys.exit(main())
