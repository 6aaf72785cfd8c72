"""sshd AuthorizedKeysCommand for the tests: prints the public key of every key pair moto holds,
so a key pair ambake creates (CreateKeyPair) logs in as soon as it exists and is refused once it
is deleted — what cloud-init does on EC2.

Usage (by sshd, scrubbed environment): authkeys ENDPOINT REGION...
"""
import sys

import boto3
from botocore.config import Config

endpoint, regions = sys.argv[1], sys.argv[2:]
for region in regions:
    ec2 = boto3.client("ec2", region_name=region, endpoint_url=endpoint, aws_access_key_id="AKIAHARNESS000000000",
                       aws_secret_access_key="harness-secret", config=Config(user_agent_extra="ambake-harness"))
    for kp in ec2.describe_key_pairs(IncludePublicKey=True).get("KeyPairs", []):
        if kp.get("PublicKey"):
            print(kp["PublicKey"].strip())
