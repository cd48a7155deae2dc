"""AWS EC2: the instances of some regions, with boto3.

Credentials are an access key (and optionally a role to assume with it);
``endpoint_url`` points every call (EC2 and STS) at another AWS-compatible
endpoint. Lists are read with boto3's paginators (``MaxResults`` pages of
``page_size``), region by region; a region that fails ends the whole read
with a ConnectorError naming it, so no half-read region is taken as empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from .base import ConnectorError, DiscoveredInstance, Discovery, Progress, no_progress, tail

# Codes with which AWS (and compatible endpoints) refuse a key or a signature.
REJECTED = {
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "IncompleteSignature",
}
DENIED = {"UnauthorizedOperation", "AccessDenied", "AccessDeniedException"}
GONE_STATES = {"terminated", "shutting-down"}


@dataclass(frozen=True)
class AwsSettings:
    access_key_id: str
    secret_access_key: str = field(repr=False)
    regions: tuple[str, ...]
    role_arn: str = ""
    endpoint_url: str = ""
    # Rows per DescribeInstances call (MaxResults: 5-1000).
    page_size: int = 1000
    timeout: float = 20.0


def _config(settings: AwsSettings) -> Config:
    return Config(
        connect_timeout=settings.timeout,
        read_timeout=settings.timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )


def _explain(error: Exception, settings: AwsSettings, where: str) -> ConnectorError:
    """A clear message for the connector's page; never the secret."""
    endpoint = settings.endpoint_url or "AWS"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in REJECTED:
            return ConnectorError(
                f"AWS rejected the access key {tail(settings.access_key_id)} ({code}) {where}: "
                "check the access key id and secret."
            )
        if code in DENIED:
            return ConnectorError(
                f"AWS denied the access key {tail(settings.access_key_id)} {where} ({code}): "
                "it needs ec2:DescribeInstances"
                + (" and sts:AssumeRole on the role." if settings.role_arn else ".")
            )
        message = error.response.get("Error", {}).get("Message", "")
        return ConnectorError(f"AWS answered {code or 'an error'} {where}: {message}".strip())
    if isinstance(error, EndpointConnectionError):
        return ConnectorError(f"Cannot reach {endpoint} {where}: {error}")
    if isinstance(error, NoCredentialsError):
        return ConnectorError("No AWS credentials: enter an access key id and secret.")
    return ConnectorError(f"Reading {endpoint} failed {where}: {error}")


def _session(settings: AwsSettings) -> boto3.session.Session:
    """A session with the access key, or with the role it assumes."""
    if not settings.access_key_id or not settings.secret_access_key:
        raise ConnectorError("No AWS credentials: enter an access key id and secret.")
    session = boto3.session.Session(
        aws_access_key_id=settings.access_key_id,
        aws_secret_access_key=settings.secret_access_key,
        region_name=settings.regions[0],
    )
    if not settings.role_arn:
        return session
    sts = session.client(
        "sts", endpoint_url=settings.endpoint_url or None, config=_config(settings)
    )
    try:
        credentials = sts.assume_role(
            RoleArn=settings.role_arn, RoleSessionName="enclave-connector"
        )["Credentials"]
    except (BotoCoreError, ClientError) as error:
        raise _explain(error, settings, f"assuming role {settings.role_arn}") from None
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=settings.regions[0],
    )


def _instance(raw: dict, region: str) -> DiscoveredInstance:
    tags = {t.get("Key", ""): t.get("Value", "") for t in raw.get("Tags") or [] if t.get("Key")}
    state = (raw.get("State") or {}).get("Name", "")
    return DiscoveredInstance(
        cloud_id=raw["InstanceId"],
        name=tags.get("Name", ""),
        state=state,
        region=region,
        network_id=raw.get("VpcId") or "",
        subnet_id=raw.get("SubnetId") or "",
        private_ip=raw.get("PrivateIpAddress") or "",
        public_ip=raw.get("PublicIpAddress") or "",
        image=raw.get("ImageId") or "",
        os=raw.get("PlatformDetails") or raw.get("Platform") or "",
        tags=tags,
        gone=state in GONE_STATES,
        scope=region,
    )


def discover(settings: AwsSettings, progress: Progress = no_progress) -> Discovery:
    """Every instance of the configured regions. Raises ConnectorError."""
    if not settings.regions:
        raise ConnectorError("No region to read: list at least one (e.g. eu-west-1).")
    session = _session(settings)
    found: list[DiscoveredInstance] = []
    total = len(settings.regions)
    for done, region in enumerate(settings.regions, start=1):
        ec2 = session.client(
            "ec2",
            region_name=region,
            endpoint_url=settings.endpoint_url or None,
            config=_config(settings),
        )
        pages = ec2.get_paginator("describe_instances").paginate(
            PaginationConfig={"PageSize": settings.page_size}
        )
        try:
            for page in pages:
                for reservation in page.get("Reservations", []):
                    found.extend(_instance(raw, region) for raw in reservation["Instances"])
        except (BotoCoreError, ClientError) as error:
            raise _explain(error, settings, f"in region {region}") from None
        progress(done, total, region)
    return Discovery(instances=found, scopes=list(settings.regions))
