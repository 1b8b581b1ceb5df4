"""Streamlit glue for the app's pages (``app.py`` and ``pages/*.py``); the library ``star/`` never imports streamlit.

Lives outside ``pages/`` because Streamlit turns every ``.py`` file in ``pages/`` into a page. ``import ui`` works
in every page because Streamlit puts the main script's folder (the repo root, where app.py is) first on sys.path
while it runs any page of the app; so pages are run through app.py (``streamlit run app.py``, or
``AppTest.from_file("app.py").switch_page("pages/...")``), not on their own.
"""
