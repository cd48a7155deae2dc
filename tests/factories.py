"""factory_boy factories shared by every app's tests."""

import factory
from django.utils import timezone

from accounts.models import Role, User
from assets.models import AssetGroup, Host, Tag
from core import iprange
from networks.models import AddressRange, Network, NetworkKind, ScannerAppliance
from scans.models import Detection, DetectionStatus, Vulnerability


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.READER
    password = factory.django.Password("correct-horse-battery")


class NetworkFactory(factory.django.DjangoModelFactory):
    """A custom network; pass ``space="10.0.0.0/16"`` to give it an address space."""

    class Meta:
        model = Network
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Network {n}")
    kind = NetworkKind.CUSTOM

    @factory.post_generation
    def space(self, create, extracted, **kwargs):
        if not extracted:
            return
        ranges = iprange.parse(extracted)
        AddressRange.objects.bulk_create(
            AddressRange(network=self, start_key=r.start_key, end_key=r.end_key) for r in ranges
        )
        self.address_space = iprange.format_ranges(ranges)
        self.save(update_fields=["address_space"])


class ApplianceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScannerAppliance

    name = factory.Sequence(lambda n: f"appliance-{n}")
    network = factory.SubFactory(NetworkFactory)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag-{n}")


class HostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Host

    network = factory.SubFactory(NetworkFactory)
    ip = factory.Sequence(lambda n: f"10.0.{n // 250}.{n % 250 + 1}")
    last_scanned = factory.LazyFunction(timezone.now)


class AssetGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssetGroup

    title = factory.Sequence(lambda n: f"Group {n}")
    network = factory.SubFactory(NetworkFactory)


class VulnerabilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Vulnerability
        django_get_or_create = ("qid",)

    qid = factory.Sequence(lambda n: 900000 + n)
    title = factory.Sequence(lambda n: f"Test vulnerability {n}")
    severity = 3
    category = "General"
    diagnosis = "A test finding."
    solution = "Fix it."


class DetectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Detection

    host = factory.SubFactory(HostFactory)
    network = factory.SelfAttribute("host.network")
    vulnerability = factory.SubFactory(VulnerabilityFactory)
    severity = factory.SelfAttribute("vulnerability.severity")
    status = DetectionStatus.NEW
    port = 0
