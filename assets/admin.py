from django.contrib import admin

from .models import AssetGroup, Host, Tag


@admin.register(Host)
class HostAdmin(admin.ModelAdmin):
    list_display = ("ip", "network", "dns", "os", "last_scanned")
    list_select_related = ("network",)
    search_fields = ("ip", "dns", "netbios")
    readonly_fields = ("network", "ip", "ip_key")
    show_full_result_count = False


@admin.register(AssetGroup)
class AssetGroupAdmin(admin.ModelAdmin):
    list_display = ("title", "network", "ips")
    list_select_related = ("network",)
    readonly_fields = ("network", "ips")


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
