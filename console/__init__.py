"""The console's shared building blocks, one floor above ``core``.

Django-aware but without models or rules: the htmx partial decision, the list
page base, how a service's ValidationError reaches a form or the API, and the
API's pagination. Every app may import it; it imports no app.
"""
