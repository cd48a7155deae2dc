"""A small Azure for the connector tests: Microsoft Entra ID's token endpoint and
the Azure Resource Manager lists the Azure connector reads, over HTTPS on loopback.

The SDK (azure-identity, azure-mgmt-compute, azure-mgmt-network) talks to it
unpatched, through the connector's ``authority_host`` and
``resource_manager_url``. azure-identity accepts only https authorities, so
the fake serves TLS with a certificate made for the test (``tls_files``); the
test trusts it the way an installation trusts a private CA, with
``REQUESTS_CA_BUNDLE``.

It answers as the real services do, for what the SDK asks:

* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` (MSAL's tenant
  discovery) and ``POST /{tenant}/oauth2/v2.0/token`` (client credentials):
  a wrong client id or secret is AAD's 401 ``invalid_client`` (AADSTS7000215);
* ``GET /subscriptions/{id}/providers/Microsoft.Compute/virtualMachines``
  (the model; ``statusOnly=true``: with the power state in
  ``properties.instanceView``), ``.../Microsoft.Network/networkInterfaces`` and
  ``.../Microsoft.Network/publicIPAddresses``, ``page_size`` items a page with
  a ``nextLink``; a missing or unknown bearer token is 401, an unknown
  subscription 404 ``SubscriptionNotFound``.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "enclave-test-azure")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "azure-fake.pem", folder / "azure-fake.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class AzureFake:
    """One tenant with one service principal and some subscriptions of VMs."""

    def __init__(self, *, tenant: str, client_id: str, client_secret: str, page_size: int = 2):
        self.tenant, self.client_id, self.client_secret = tenant, client_id, client_secret
        self.page_size = page_size
        self.subscriptions: dict[str, dict[str, dict]] = {}
        self.tokens: set[str] = set()
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None

    # --- the world ------------------------------------------------------------------

    def subscription(self, subscription: str) -> dict[str, dict]:
        return self.subscriptions.setdefault(subscription, {})

    def add_vm(
        self,
        subscription: str,
        name: str,
        *,
        private_ip: str,
        vnet: str = "vnet-a",
        subnet: str = "default",
        resource_group: str = "rg-app",
        location: str = "westeurope",
        public_ip: str = "",
        power: str = "running",
        tags: dict | None = None,
        vm_id: str | None = None,
    ) -> dict:
        vm = {
            "name": name,
            "vm_id": vm_id or str(uuid.uuid4()),
            "private_ip": private_ip,
            "vnet": vnet,
            "subnet": subnet,
            "resource_group": resource_group,
            "location": location,
            "public_ip": public_ip,
            "power": power,
            "tags": tags or {},
        }
        self.subscription(subscription)[name] = vm
        return vm

    def vnet_id(self, subscription: str, vnet: str, resource_group: str = "rg-app") -> str:
        return (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/Microsoft.Network/virtualNetworks/{vnet}"
        )

    # --- ARM documents ---------------------------------------------------------------

    def _ids(self, subscription: str, vm: dict) -> dict[str, str]:
        group = f"/subscriptions/{subscription}/resourceGroups/{vm['resource_group']}/providers"
        return {
            "vm": f"{group}/Microsoft.Compute/virtualMachines/{vm['name']}",
            "nic": f"{group}/Microsoft.Network/networkInterfaces/{vm['name']}-nic",
            "pip": f"{group}/Microsoft.Network/publicIPAddresses/{vm['name']}-ip",
            "subnet": f"{self.vnet_id(subscription, vm['vnet'], vm['resource_group'])}"
            f"/subnets/{vm['subnet']}",
        }

    def _vm_doc(self, subscription: str, vm: dict, status_only: bool) -> dict:
        ids = self._ids(subscription, vm)
        if status_only:
            properties = {
                "vmId": vm["vm_id"],
                "instanceView": {
                    "statuses": [
                        {"code": "ProvisioningState/succeeded", "level": "Info"},
                        {"code": f"PowerState/{vm['power']}", "level": "Info"},
                    ]
                },
            }
        else:
            properties = {
                "vmId": vm["vm_id"],
                "hardwareProfile": {"vmSize": "Standard_B1s"},
                "storageProfile": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "ubuntu-24_04-lts",
                        "sku": "server",
                        "version": "latest",
                    },
                    "osDisk": {
                        "osType": "Linux",
                        "name": f"{vm['name']}-os",
                        "createOption": "FromImage",
                    },
                },
                "networkProfile": {
                    "networkInterfaces": [{"id": ids["nic"], "properties": {"primary": True}}]
                },
                "provisioningState": "Succeeded",
            }
        return {
            "id": ids["vm"],
            "name": vm["name"],
            "type": "Microsoft.Compute/virtualMachines",
            "location": vm["location"],
            "tags": vm["tags"],
            "properties": properties,
        }

    def _nic_doc(self, subscription: str, vm: dict) -> dict:
        ids = self._ids(subscription, vm)
        config = {
            "privateIPAddress": vm["private_ip"],
            "privateIPAllocationMethod": "Dynamic",
            "primary": True,
            "subnet": {"id": ids["subnet"]},
        }
        if vm["public_ip"]:
            config["publicIPAddress"] = {"id": ids["pip"]}
        return {
            "id": ids["nic"],
            "name": f"{vm['name']}-nic",
            "type": "Microsoft.Network/networkInterfaces",
            "location": vm["location"],
            "properties": {
                "ipConfigurations": [
                    {
                        "id": f"{ids['nic']}/ipConfigurations/ipconfig1",
                        "name": "ipconfig1",
                        "properties": config,
                    }
                ],
                "virtualMachine": {"id": ids["vm"]},
                "primary": True,
            },
        }

    def _pip_doc(self, subscription: str, vm: dict) -> dict:
        return {
            "id": self._ids(subscription, vm)["pip"],
            "name": f"{vm['name']}-ip",
            "type": "Microsoft.Network/publicIPAddresses",
            "location": vm["location"],
            "properties": {"ipAddress": vm["public_ip"], "publicIPAllocationMethod": "Static"},
        }

    def listing(self, subscription: str, kind: str, status_only: bool) -> list[dict]:
        vms = sorted(self.subscriptions[subscription].values(), key=lambda v: v["name"])
        if kind == "Microsoft.Compute/virtualMachines":
            return [self._vm_doc(subscription, vm, status_only) for vm in vms]
        if kind == "Microsoft.Network/networkInterfaces":
            return [self._nic_doc(subscription, vm) for vm in vms]
        return [self._pip_doc(subscription, vm) for vm in vms if vm["public_ip"]]

    # --- the server ------------------------------------------------------------------

    def start(self, cert: Path, key: Path) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def answer(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                parts = url.path.strip("/").split("/")
                if url.path.endswith("/v2.0/.well-known/openid-configuration"):
                    return self.openid_configuration(parts[0])
                if len(parts) == 5 and parts[0] == "subscriptions" and parts[2] == "providers":
                    return self.arm_list(parts[1], f"{parts[3]}/{parts[4]}", query)
                return self.answer(404, {"error": {"code": "NotFound", "message": url.path}})

            def do_POST(self):
                fake.requests.append(("POST", self.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode())
                parts = urlsplit(self.path).path.strip("/").split("/")
                if parts[1:] == ["oauth2", "v2.0", "token"]:
                    return self.token(parts[0], form)
                return self.answer(404, {"error": "not_found"})

            def base(self) -> str:
                return f"https://127.0.0.1:{fake.port}"

            def openid_configuration(self, tenant: str):
                if tenant != fake.tenant:
                    return self.answer(
                        400,
                        {
                            "error": "invalid_tenant",
                            "error_description": f"AADSTS90002: Tenant '{tenant}' not found.",
                            "error_codes": [90002],
                        },
                    )
                root = f"{self.base()}/{tenant}"
                return self.answer(
                    200,
                    {
                        "token_endpoint": f"{root}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
                        "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
                        "issuer": f"{root}/v2.0",
                        "jwks_uri": f"{root}/discovery/v2.0/keys",
                        "response_types_supported": ["code", "id_token", "token"],
                        "token_endpoint_auth_methods_supported": ["client_secret_post"],
                    },
                )

            def token(self, tenant: str, form: dict):
                client_id = form.get("client_id", [""])[0]
                secret = form.get("client_secret", [""])[0]
                if (
                    tenant != fake.tenant
                    or client_id != fake.client_id
                    or secret != fake.client_secret
                ):
                    return self.answer(
                        401,
                        {
                            "error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided. "
                            "Ensure the secret being sent in the request is the client secret "
                            f"value, not the client secret ID, for a secret added to app "
                            f"'{client_id}'.",
                            "error_codes": [7000215],
                        },
                    )
                token = uuid.uuid4().hex
                fake.tokens.add(token)
                return self.answer(
                    200,
                    {
                        "token_type": "Bearer",
                        "expires_in": 3599,
                        "ext_expires_in": 3599,
                        "access_token": token,
                    },
                )

            def arm_list(self, subscription: str, kind: str, query: dict):
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if bearer not in fake.tokens:
                    return self.answer(
                        401,
                        {
                            "error": {
                                "code": "InvalidAuthenticationToken",
                                "message": "The access token is invalid.",
                            }
                        },
                    )
                if subscription not in fake.subscriptions:
                    return self.answer(
                        404,
                        {
                            "error": {
                                "code": "SubscriptionNotFound",
                                "message": f"The subscription '{subscription}' could not be found.",
                            }
                        },
                    )
                status_only = query.get("statusOnly", ["false"])[0].lower() == "true"
                items = fake.listing(subscription, kind, status_only)
                start = int(query.get("$skiptoken", ["0"])[0])
                page = items[start : start + fake.page_size]
                body = {"value": page}
                if start + fake.page_size < len(items):
                    version = query.get("api-version", [""])[0]
                    extra = "&statusOnly=true" if status_only else ""
                    body["nextLink"] = (
                        f"{self.base()}/subscriptions/{subscription}/providers/{kind}"
                        f"?api-version={version}{extra}&$skiptoken={start + fake.page_size}"
                    )
                return self.answer(200, body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def pages_of(self, marker: str) -> int:
        """How many requests asked for a list whose path holds ``marker``."""
        return sum(1 for method, path in self.requests if method == "GET" and marker in path)
