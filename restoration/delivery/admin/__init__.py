"""The archive's admin, by concern: the archive (items with their versions, collections),
provenance (read-only), restoration jobs, and the actions that hand work elsewhere. Importing
this package registers every admin class (``RestorationConfig.ready`` does)."""

from restoration.delivery.admin import archive, jobs, provenance  # noqa: F401 - registrations
