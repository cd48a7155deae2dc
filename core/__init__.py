"""The ground floor: plain Python that every app and the scan engine share.

Nothing here imports Django or an app. ``iprange`` is the address math;
``results`` the data classes that cross the broker between the platform and
its appliances. An appliance needs only this package and ``scans.engine``.
"""
