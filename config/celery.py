import os
import uuid
from queue import Empty
from time import monotonic

from celery import Celery
from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class FilesystemChannel(filesystem.Channel):
    """kombu's folder broker, made safe for several processes.

    kombu writes a message file in place and a reader in another process can
    take it before it is written (an empty message, a crashed consumer). Here a
    message is written under a name no reader matches and renamed into place,
    and a reader claims a file by renaming it (atomic: one reader wins).
    """

    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != wanted:
                continue
            source = os.path.join(self.data_folder_in, filename)
            claimed = f"{source}.claimed-{uuid.uuid4().hex}"
            try:
                os.rename(source, claimed)
            except OSError:  # another consumer took it first
                continue
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            finally:
                os.remove(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel


# "filesystem://" (the embedded default broker) means the safe variant above.
TRANSPORT_ALIASES["filesystem"] = "config.celery:FilesystemTransport"

app = Celery("enclave")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
