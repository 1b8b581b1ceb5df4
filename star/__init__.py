"""STAR: zero-shot skeleton action recognition with fine-grained side information and dual prompts.

The library behind STAR Studio. It never imports streamlit; the app in ``app.py`` and ``pages/``
and the ``star`` command are thin layers over it.
"""

__version__ = "0.1.0"
