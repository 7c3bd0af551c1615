"""IIIF for the archive: the Image API 3 service (``image``, ``views``) and Presentation 3
manifests and collections (``presentation``). URLs: ``restoration.interop.iiif.urls``, mounted at
``/iiif/3/``. See docs/interop.md.
"""
