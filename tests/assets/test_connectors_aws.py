"""The AWS EC2 connector end to end: the real boto3 client, through the
connector's ``endpoint_url``, against moto's server mode on loopback; the
service reads, records and reports as a run on the connector's page would."""

import logging
import socket

import boto3
import pytest
import requests
from cryptography.fernet import Fernet
from moto.server import ThreadedMotoServer

from assets import connector_services as services
from assets.connectors.aws import AwsSettings, discover
from assets.models import CloudInstance, ConnectorRunStatus, Host
from networks.models import Network, NetworkKind
from tests.factories import NetworkFactory, UserFactory

pytestmark = pytest.mark.django_db
REGION = "eu-west-1"


@pytest.fixture(scope="module")
def moto_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def aws(moto_url):
    """A clean moto account; its admin client; auth switched off again afterwards."""
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)

    def client(service):
        return boto3.client(
            service,
            endpoint_url=moto_url,
            region_name=REGION,
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )

    yield client
    requests.post(f"{moto_url}/moto-api/reset-auth", data=b"inf", timeout=10)


@pytest.fixture(autouse=True)
def connector_key(settings):
    settings.ENCLAVE_CONNECTOR_KEY = Fernet.generate_key().decode()


@pytest.fixture
def manager():
    return UserFactory(username="manager", role="manager")


def access_key(aws) -> dict:
    iam = aws("iam")
    iam.create_user(UserName="enclave")
    iam.put_user_policy(
        UserName="enclave",
        PolicyName="read-ec2",
        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
        '"Action": ["ec2:Describe*", "sts:AssumeRole"], "Resource": "*"}]}',
    )
    return iam.create_access_key(UserName="enclave")["AccessKey"]


def vpc_with_subnet(ec2, cidr="10.0.0.0/16", subnet="10.0.1.0/24"):
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    return vpc, ec2.create_subnet(VpcId=vpc, CidrBlock=subnet)["Subnet"]["SubnetId"]


_IMAGES: list[str] = []


def launch(ec2, subnet, ip=None, name="web", tags=None, count=1):
    if not _IMAGES:  # moto's stock images are the same after every reset; listing them is slow
        images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-*"]}])
        _IMAGES.append(images["Images"][0]["ImageId"])
    image = _IMAGES[0]
    extra = {"PrivateIpAddress": ip} if ip else {}
    tag_list = [{"Key": "Name", "Value": name}] + [
        {"Key": k, "Value": v} for k, v in (tags or {}).items()
    ]
    return [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId=image,
            MinCount=count,
            MaxCount=count,
            SubnetId=subnet,
            TagSpecifications=[{"ResourceType": "instance", "Tags": tag_list}],
            **extra,
        )["Instances"]
    ]


def make_connector(manager, moto_url, key, mappings=(), **extra):
    return services.connector_create(
        actor=manager,
        name="AWS prod",
        kind="aws_ec2",
        credentials={
            "access_key_id": key["AccessKeyId"],
            "secret_access_key": key["SecretAccessKey"],
            **extra.pop("credentials", {}),
        },
        scopes=[REGION],
        endpoint_url=moto_url,
        mappings=mappings,
        **extra,
    )


def run_now(manager, connector):
    run = services.connector_run_start(actor=manager, connector=connector)
    return services.connector_run_execute(run=run)


def test_two_vpcs_with_the_same_cidr_land_in_their_mapped_networks(aws, moto_url, manager):
    key = access_key(aws)
    ec2 = aws("ec2")
    vpc_plant, subnet_plant = vpc_with_subnet(ec2)
    vpc_office, subnet_office = vpc_with_subnet(ec2)
    vpc_other, subnet_other = vpc_with_subnet(ec2, "10.9.0.0/16", "10.9.1.0/24")
    [plant_id] = launch(ec2, subnet_plant, "10.0.1.10", name="plc", tags={"site": "plant"})
    [office_id] = launch(ec2, subnet_office, "10.0.1.10", name="mail")
    [other_id] = launch(ec2, subnet_other, "10.9.1.20", name="spare")
    plant = NetworkFactory(name="Plant", space="10.0.0.0/16")
    office = NetworkFactory(name="Office", space="10.0.0.0/16")
    connector = make_connector(
        manager,
        moto_url,
        key,
        mappings=[
            {"vpc": vpc_plant, "network": plant.pk},
            {"vpc": vpc_office, "network": office.pk},
        ],
    )
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.FINISHED, run.error
    assert run.counts["new"] == 3 and run.scopes_done == 1
    by_id = {r.cloud_id: r for r in CloudInstance.objects.select_related("host__network")}
    assert (by_id[plant_id].host.network, by_id[plant_id].host.ip) == (plant, "10.0.1.10")
    assert (by_id[office_id].host.network, by_id[office_id].host.ip) == (office, "10.0.1.10")
    assert by_id[other_id].host.network.kind == NetworkKind.GLOBAL_EC2
    assert by_id[plant_id].name == "plc" and by_id[plant_id].cloud_network == vpc_plant
    assert by_id[plant_id].region == REGION and by_id[plant_id].image.startswith("ami-")
    tags = set(by_id[plant_id].host.tags.values_list("name", flat=True))
    assert tags == {"Name:plc", "site:plant"}
    connector.refresh_from_db()
    assert connector.last_run == run


def test_a_terminated_instance_is_marked_gone_and_keeps_its_host(aws, moto_url, manager):
    key = access_key(aws)
    ec2 = aws("ec2")
    _, subnet = vpc_with_subnet(ec2)
    [keep, stop] = launch(ec2, subnet, count=2)
    connector = make_connector(manager, moto_url, key)
    run_now(manager, connector)
    host = CloudInstance.objects.get(cloud_id=stop).host
    ec2.terminate_instances(InstanceIds=[stop])
    run = run_now(manager, connector)
    assert run.counts["gone"] == 1, run.counts
    gone = CloudInstance.objects.get(cloud_id=stop)
    assert gone.state == "terminated" and gone.gone_at is not None
    assert gone.host == host  # kept until the purge
    assert CloudInstance.objects.get(cloud_id=keep).gone_at is None


def test_many_instances_are_read_page_by_page(aws, moto_url, manager):
    key = access_key(aws)
    ec2 = aws("ec2")
    _, subnet = vpc_with_subnet(ec2)
    # moto pages DescribeInstances by reservation: one launch per instance.
    launched = [launch(ec2, subnet, name=f"node{n}")[0] for n in range(12)]
    settings = AwsSettings(
        access_key_id=key["AccessKeyId"],
        secret_access_key=key["SecretAccessKey"],
        regions=(REGION,),
        endpoint_url=moto_url,
        page_size=5,  # three pages
    )
    found = discover(settings)
    assert sorted(i.cloud_id for i in found.instances) == sorted(launched)
    run = run_now(manager, make_connector(manager, moto_url, key))
    assert run.counts["new"] == 12
    assert Network.objects.get(kind=NetworkKind.GLOBAL_EC2).hosts.count() == 12


def test_a_role_to_assume_is_assumed(aws, moto_url, manager):
    key = access_key(aws)
    role = aws("iam").create_role(
        RoleName="enclave-reader",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
    )["Role"]["Arn"]
    _, subnet = vpc_with_subnet(aws("ec2"))
    launch(aws("ec2"), subnet)
    connector = make_connector(manager, moto_url, key, credentials={"role_arn": role})
    assert connector.credentials_hint.endswith("assumes a role")
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.FINISHED, run.error
    assert run.counts["new"] == 1


def test_a_wrong_secret_ends_the_run_in_a_clear_error_and_leaves_the_hosts(aws, moto_url, manager):
    key = access_key(aws)
    _, subnet = vpc_with_subnet(aws("ec2"))
    launch(aws("ec2"), subnet, count=2)
    connector = make_connector(manager, moto_url, key)
    requests.post(f"{moto_url}/moto-api/reset-auth", data=b"0", timeout=10)  # IAM checks on
    assert run_now(manager, connector).status == ConnectorRunStatus.FINISHED
    before = list(Host.objects.order_by("pk").values_list("pk", "network_id", "ip"))
    services.connector_update(
        actor=manager, connector=connector, credentials={"secret_access_key": "not-the-secret"}
    )
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.ERROR
    tail = key["AccessKeyId"][-4:]
    assert run.error == (
        f"AWS rejected the access key …{tail} (AuthFailure) in region {REGION}: "
        "check the access key id and secret."
    )
    assert list(Host.objects.order_by("pk").values_list("pk", "network_id", "ip")) == before
    assert CloudInstance.objects.filter(gone_at__isnull=False).count() == 0


def test_an_endpoint_that_does_not_answer_is_a_clear_error(aws, moto_url, manager):
    key = access_key(aws)
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    connector = make_connector(manager, closed, key)
    run = run_now(manager, connector)
    assert run.status == ConnectorRunStatus.ERROR
    assert run.error.startswith(f"Cannot reach {closed} in region {REGION}")
    assert not Host.objects.exists()


def test_a_run_logs_no_secret(aws, moto_url, manager, caplog):
    key = access_key(aws)
    _, subnet = vpc_with_subnet(aws("ec2"))
    launch(aws("ec2"), subnet)
    connector = make_connector(manager, moto_url, key)
    caplog.set_level(logging.DEBUG)
    assert run_now(manager, connector).status == ConnectorRunStatus.FINISHED
    services.connector_update(
        actor=manager, connector=connector, credentials={"secret_access_key": "wrong-secret-x"}
    )
    requests.post(f"{moto_url}/moto-api/reset-auth", data=b"0", timeout=10)
    assert run_now(manager, connector).status == ConnectorRunStatus.ERROR
    assert "botocore" in caplog.text  # the SDK's own debug log was captured too
    assert key["SecretAccessKey"] not in caplog.text
    assert "wrong-secret-x" not in caplog.text
