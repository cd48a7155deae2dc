from celery import shared_task

from . import services


@shared_task(ignore_result=True, acks_late=False)
def appliance_heartbeat(
    name: str,
    version: str = "",
    nmap_version: str = "",
    running_slices: int = 0,
    slices: list[str] | None = None,
    slots: int = 0,
    process: str = "",
    number: int = 0,
    **newer,
) -> None:
    """An appliance says it is alive, and which slices it holds (an older
    appliance does not say). Sent by the appliance over the broker. What a
    newer appliance adds (``newer``) is ignored, so an appliance upgraded
    before the platform still counts as alive."""
    services.appliance_heartbeat(
        name=name,
        version=version,
        nmap_version=nmap_version,
        running_slices=running_slices,
        slices=slices,
        slots=slots,
        process=process,
        number=number,
    )
