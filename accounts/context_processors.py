from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.functional import SimpleLazyObject

# The product's tabs: (section, label, URL name, least role). A page that is not
# built yet has no URL name to reverse, so it is not linked.
TABS = [
    ("Dashboard", "Dashboard", "insights:dashboard", "reader"),
    ("Assets", "Networks", "networks:network_list", "reader"),
    ("Assets", "Host Assets", "assets:host_list", "reader"),
    ("Assets", "Asset Groups", "assets:asset_group_list", "reader"),
    ("Assets", "Tags", "assets:tag_list", "reader"),
    ("Assets", "Connectors", "assets:connector_list", "manager"),
    ("Scans", "Scans", "scans:scan_list", "reader"),
    ("Scans", "Vulnerabilities", "insights:vulnerability_list", "reader"),
    ("Scans", "Imports", "scans:import_list", "reader"),
    ("Scans", "Scanner Appliances", "networks:appliance_list", "reader"),
    ("Scans", "Schedules", "scans:schedule_list", "reader"),
    ("Scans", "Option Profiles", "scans:option_profile_list", "reader"),
    ("Scans", "KnowledgeBase", "scans:kb_list", "reader"),
    ("Scans", "Feeds", "scans:feed_list", "manager"),
    ("Reports", "Reports", "reports:report_list", "reader"),
    ("Reports", "Templates", "reports:template_list", "reader"),
    ("Reports", "Schedules", "reports:schedule_list", "reader"),
    ("Dashboard", "Search", "insights:search", "reader"),
    ("Users", "Users", "accounts:user_list", "manager"),
    ("Users", "Audit Log", "accounts:audit_list", "manager"),
    ("Users", "Your settings", "accounts:profile", "reader"),
]

# Pages whose address does not start with their tab link's (the link's URL name
# by the page's): the host's findings live in the scans app but belong to
# Host Assets. Every other page belongs to the link with the longest URL its
# path starts with. tests/test_navigation.py walks every page to keep it so.
PAGE_TABS = {
    "assets:network_hosts": "assets:host_list",
    "scans:host_detections": "assets:host_list",
    "insights:host_history": "assets:host_list",
    "assets:overlap_list": "networks:network_list",
    "scans:appliance_slices": "networks:appliance_list",
}


def _tabs(request):
    user = request.user
    sections: dict[str, list[dict]] = {}
    for section, label, url_name, role in TABS:
        if url_name == "networks:network_list" and not settings.ENCLAVE_NETWORKS_ENABLED:
            continue
        if not user.is_authenticated or not user.has_role(role):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        sections.setdefault(section, []).append(
            {"label": label, "url": url, "name": url_name, "active": False}
        )
    links = [link for section in sections.values() for link in section]
    match = getattr(request, "resolver_match", None)
    # A view may say which link its page is under, when that depends on the
    # object shown (an import's findings page is under Imports).
    owner = getattr(request, "enclave_tab", None) or (
        PAGE_TABS.get(match.view_name) if match is not None else None
    )
    owned = [link for link in links if link["name"] == owner]
    # Otherwise the current page is the link with the longest URL the path
    # starts with: /scans/kb/ is KnowledgeBase, not Scans as well.
    matches = owned or [link for link in links if request.path.startswith(link["url"])]
    if matches:
        max(matches, key=lambda link: len(link["url"]))["active"] = True
    return [
        {"name": name, "links": links, "active": any(link["active"] for link in links)}
        for name, links in sections.items()
    ]


def enclave(request):
    # Lazy: context processors run again for every template rendered with the
    # request (each django-tables2 table is), and only the page's layout shows tabs.
    return {
        "networks_enabled": settings.ENCLAVE_NETWORKS_ENABLED,
        "tabs": SimpleLazyObject(lambda: _tabs(request) if hasattr(request, "user") else []),
    }
