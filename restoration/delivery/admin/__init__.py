"""The archive's admin, by concern: the archive (items with their versions, collections),
provenance (read-only), restoration jobs, user accounts (deactivated, never deleted), and the
actions that hand work elsewhere. Importing this package registers every admin class
(``RestorationConfig.ready`` does)."""

from restoration.delivery.admin import archive, jobs, provenance, users  # noqa: F401 - registrations
