from django.contrib import admin

from .models import Network, ScannerAppliance

admin.site.register(Network)
admin.site.register(ScannerAppliance)
