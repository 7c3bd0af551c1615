"""Curators' and visitors' pages: collections, a grid of items, an item with its viewer.

``views.py`` (what each URL shows and who may post), ``urls.py`` (mounted at the site root),
``display.py`` (what an item's page says about versions and provenance: AI labels, the
timeline), ``forms.py`` (search and filters of the grid, the form that queues a job).
Templates live in ``templates/restoration/``, scripts and styles in
``restoration/static/restoration/``.
"""
