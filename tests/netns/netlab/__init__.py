"""A lab of isolated, overlapping test networks built from Linux network namespaces.

Every network of the lab uses the *same* subnet (10.77.0.0/24 by default), so
``10.77.0.5`` in network "a" and ``10.77.0.5`` in network "b" are two different
machines. Each machine is its own namespace::

    encl_a_s1 (scanner, 10.77.0.1) --veth--+
    encl_a_s2 (scanner, 10.77.0.2) --veth--+-- br0 in encl_a_sw (the network's switch)
    encl_a_h5 (host,    10.77.0.5) --veth--+
    encl_a_h6 (host,    10.77.0.6) --veth--+

Nothing connects a network to another network or to the machine's own network:
no namespace has a default route, no link is created in (or moved out of) the
root namespace, and the only thing every namespace shares with the root
namespace is the file system, which is how the broker is reached (Redis on a
Unix socket on a file path).

Used by the pytest fixtures in ``tests/netns/conftest.py`` and by
``bench/netns_lab.py``; plain Python, no pytest and no Django, so a script can
import it (``from tests.netns.netlab import NetLab``). Needs root.

Cleanup is guaranteed as far as a process can guarantee it: ``NetLab`` is a
context manager; ``close()`` also runs at interpreter exit; SIGTERM/SIGHUP
become ``KeyboardInterrupt`` so ``with`` blocks and fixture finalizers unwind;
every child gets ``PR_SET_PDEATHSIG=SIGKILL`` so it dies with the lab's
process even after a ``kill -9`` of it; and the next lab removes whatever an
aborted run left (namespaces named ``encl_*``, processes inside them, recorded
processes of dead runs and their work folders) before it builds anything.
"""

from .lab import (
    DEFAULT_SUBNET,
    REPO_ROOT,
    Broker,
    HostSpec,
    NetLab,
    Network,
    NetworkSpec,
    standard_networks,
)
from .services import SERVICE_PORTS, parse_nmap_open_ports, write_expired_certificate
from .system import (
    PREFIX,
    NetLabError,
    Proc,
    cleanup_leftovers,
    in_namespace,
    lab_namespaces,
    namespace_pids,
    unavailable_reason,
)

__all__ = [
    "DEFAULT_SUBNET",
    "PREFIX",
    "REPO_ROOT",
    "SERVICE_PORTS",
    "Broker",
    "HostSpec",
    "NetLab",
    "NetLabError",
    "Network",
    "NetworkSpec",
    "Proc",
    "cleanup_leftovers",
    "in_namespace",
    "lab_namespaces",
    "namespace_pids",
    "parse_nmap_open_ports",
    "standard_networks",
    "unavailable_reason",
    "write_expired_certificate",
]
