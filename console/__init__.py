"""The MSP console and the owner's portal: server-rendered pages over the collector's database.

It sits one floor above both the collector (its tables, its read scopes, its exports) and the report
(the one renderer of the due-diligence report), so neither of those imports the other; the
collector's app is built by ``duecare.console.app.create_app`` with the console mounted on it.
"""
